package scheduler

// UseRuntimeTimers makes s's timer loop wait on its runtime timer alone,
// for tests in a testing/synctest bubble, whose clock the runtime
// simulates and the kernel's timerfd does not follow. Call it before
// Start.
func (s *Scheduler) UseRuntimeTimers() {
	s.newAlarm = func(func()) alarm { return noAlarm{} }
}
