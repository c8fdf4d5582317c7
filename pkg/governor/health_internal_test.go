package governor

import (
	"errors"
	"testing"
	"time"
)

func TestTracker(t *testing.T) {
	ms := time.Millisecond
	fail := errors.New("timeout")
	tests := []struct {
		name      string
		rtts      []time.Duration // 0 = a failed check
		ewma, p99 time.Duration
		errRate   float64
		failed    int
	}{
		{"none", nil, 0, 0, 0, 0},
		{"one", []time.Duration{10 * ms}, 10 * ms, 10 * ms, 0, 0},
		{"ewma", []time.Duration{10 * ms, 20 * ms}, 12 * ms, 20 * ms, 0, 0},
		{"failures count in a row", []time.Duration{10 * ms, 0, 0}, 10 * ms, 10 * ms, 2.0 / 3, 2},
		{"success resets the row", []time.Duration{0, 0, 10 * ms}, 10 * ms, 10 * ms, 2.0 / 3, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tr tracker
			now := time.Unix(1000, 0)
			for _, r := range tt.rtts {
				var err error
				if r == 0 {
					err = fail
				}
				tr.observe(now, r, err)
			}
			h := tr.snapshot()
			if time.Duration(h.LatencyEWMA) != tt.ewma || time.Duration(h.P99) != tt.p99 ||
				h.FailedChecks != tt.failed || h.ErrorRate != tt.errRate {
				t.Fatalf("snapshot = %+v, want ewma %v p99 %v errRate %v failed %d", h, tt.ewma, tt.p99, tt.errRate, tt.failed)
			}
		})
	}
}

func TestTracker_P99Window(t *testing.T) {
	var tr tracker
	now := time.Now()
	for i := 1; i <= 100; i++ { // 1ms..100ms
		tr.observe(now, time.Duration(i)*time.Millisecond, nil)
	}
	if got := tr.p99(); got != 99*time.Millisecond {
		t.Fatalf("p99 of 1..100ms = %v, want 99ms", got)
	}
	for range 100 { // the window forgets the old round trips
		tr.observe(now, time.Millisecond, nil)
	}
	if got := tr.p99(); got != time.Millisecond {
		t.Fatalf("p99 after the window turned = %v, want 1ms", got)
	}
	for range 50 {
		tr.observe(now, 0, errors.New("x"))
	}
	if got := tr.errorRate(); got != 0.5 {
		t.Fatalf("error rate = %v, want 0.5", got)
	}
}
