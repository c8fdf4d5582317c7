package scheduler

import "testing"

func TestAlarm_LinuxWakesThroughThePoller(t *testing.T) {
	a := newAlarm(func() {})
	defer a.Close()
	if _, ok := a.(*fdAlarm); !ok {
		t.Fatalf("newAlarm = %T, want *fdAlarm: the loop's wake would wait for the collector's idle workers", a)
	}
}
