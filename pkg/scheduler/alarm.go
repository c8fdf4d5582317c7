package scheduler

import "time"

// An alarm wakes the timer loop when the next fire is due, by calling the
// function it was made with. Reset arms it d from now (replacing what was
// armed), Stop disarms it, Close ends it. A wake may come late or
// spuriously (a Reset racing an expiry): the loop reads the clock and the
// heap again, so neither is wrong, only a wasted turn.
//
// The loop wakes through the network poller, not the runtime's timers,
// where it can (alarm_linux.go): while a collection marks, the idle Ps run
// the collector's idle workers, and these yield to goroutines made
// runnable and to the poller's ready files but not to expired timers
// (golang/go#45632), so a fire due then waited for the end of the mark or
// for sysmon to preempt the worker, 10 ms or more, and most of the fires
// later than 2 ms at 100,000 schedules were those (docs/performance.md).
// It is also finer: a runtime timer that the process sleeps for is waited
// on in epoll's milliseconds, the timerfd in nanoseconds (p50 0.45 ->
// 0.06 ms).
type alarm interface {
	Reset(d time.Duration)
	Stop()
	Close()
}

// timerAlarm is the portable alarm, on a runtime timer.
type timerAlarm struct{ t *time.Timer }

func newTimerAlarm(wake func()) *timerAlarm {
	a := &timerAlarm{t: time.AfterFunc(time.Hour, wake)}
	a.t.Stop()
	return a
}

func (a *timerAlarm) Reset(d time.Duration) { a.t.Reset(d) }
func (a *timerAlarm) Stop()                 { a.t.Stop() }
func (a *timerAlarm) Close()                { a.t.Stop() }
