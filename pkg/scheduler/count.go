package scheduler

// Len is how many schedules the engine holds, without copying or
// counting them one by one: the daemon sizes its memory limit by it.
func (s *Scheduler) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.entries.len()
}
