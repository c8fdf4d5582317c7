package scheduler

// UseRuntimeTimers makes s's timer loop wait on the runtime's timers, for
// tests in a testing/synctest bubble, whose clock the runtime simulates
// and the kernel's timerfd does not follow. Call it before Start.
func (s *Scheduler) UseRuntimeTimers() {
	s.newAlarm = func(wake func()) alarm { return newTimerAlarm(wake) }
}

// FireQuantum is fireQuantum, for the tests of the timer loop.
const FireQuantum = fireQuantum
