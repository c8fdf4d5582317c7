package scheduler

import (
	"testing"
	"time"
)

// alarms are the implementations on this platform: the one the loop uses
// and the portable one.
func alarms() map[string]func(func()) alarm {
	return map[string]func(func()) alarm{
		"default": newAlarm,
		"timer":   func(wake func()) alarm { return newTimerAlarm(wake) },
	}
}

func TestAlarm_WakesAtTheTimeLastSet(t *testing.T) {
	for name, mk := range alarms() {
		t.Run(name, func(t *testing.T) {
			woke := make(chan time.Time, 16)
			a := mk(func() { woke <- time.Now() })
			defer a.Close()

			// Armed far, then near: the near one wakes.
			a.Reset(time.Hour)
			a.Reset(time.Millisecond)
			select {
			case <-woke:
			case <-time.After(10 * time.Second):
				t.Fatal("no wake 10 s after Reset(1ms)")
			}

			// Armed, stopped, armed later: the first wake is the later
			// one's (a wake cannot come early, so this holds however
			// slow the machine).
			a.Reset(20 * time.Millisecond)
			a.Stop()
			set := time.Now()
			a.Reset(150 * time.Millisecond)
			select {
			case at := <-woke:
				if d := at.Sub(set); d < 150*time.Millisecond {
					t.Fatalf("woke %v after Reset(150ms): Stop left the 20 ms alarm armed", d)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("no wake 10 s after Reset(150ms)")
			}
		})
	}
}

func TestAlarm_ZeroWakesAtOnce(t *testing.T) {
	for name, mk := range alarms() {
		t.Run(name, func(t *testing.T) {
			woke := make(chan struct{}, 1)
			a := mk(func() { woke <- struct{}{} })
			defer a.Close()
			a.Reset(0) // a fire due now: a zero timerfd value would disarm instead
			select {
			case <-woke:
			case <-time.After(10 * time.Second):
				t.Fatal("no wake 10 s after Reset(0)")
			}
		})
	}
}
