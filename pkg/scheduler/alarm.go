package scheduler

import "time"

// An alarm wakes the timer loop when the next fire is due, beside the
// loop's runtime timer, by calling the function it was made with (the
// loop's Nudge). Reset arms it d from now, replacing what was armed; Stop
// disarms it; Close ends it. A wake may come spuriously (a Reset racing an
// expiry, or the timer's wake first): the loop reads the clock and the
// heap again, so that is only a wasted turn.
//
// Why a second clock: while a collection marks, the Ps that would be idle
// run the collector's idle workers, which yield to runnable goroutines
// and to the poller's ready files but check no timers (golang/go#45632,
// runtime.pollWork), so a fire due then waited for the end of the mark or
// for sysmon to preempt the worker, 10 ms or more: at 100,000 schedules,
// most fires later than 2 ms were those (docs/performance.md). On Linux
// the alarm is a timerfd, which the poller reads (alarm_linux.go). The
// runtime timer stays for when the Ps are busy: a P checks its timers
// each time it schedules, and the poller only when it has nothing else.
type alarm interface {
	Reset(d time.Duration)
	Stop()
	Close()
}

// noAlarm is the alarm where there is no timerfd, and in tests whose
// clock the runtime simulates (testing/synctest), which the kernel's does
// not follow: the loop's runtime timer alone.
type noAlarm struct{}

func (noAlarm) Reset(time.Duration) {}
func (noAlarm) Stop()               {}
func (noAlarm) Close()              {}
