package scheduler_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/schedulezero/schedulezero/pkg/scheduler"
	"github.com/schedulezero/schedulezero/pkg/scheduler/schedtype"
	"github.com/schedulezero/schedulezero/pkg/store"
)

// Under overload the executions in flight stay within MaxInFlight: with
// 40 schedules firing every minute on a handler that takes 90 s and has
// 64 slots, at most MaxInFlight calls are ever outstanding, the fires
// beyond it are recorded missed (late), not held as executions, and the
// engine keeps running the ones it can.
func TestMaxInFlight_BoundsExecutionsUnderOverload(t *testing.T) {
	tests := []struct {
		name  string
		limit int
	}{
		{"one", 1},
		{"a few", 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := &fakeHandler{fn: sleepFor(90 * time.Second)}
				s := newSimWith(t, h, func(o *scheduler.Options) { o.MaxInFlight = tt.limit })
				const n = 40
				for i := range n {
					s.add(schedtype.ScheduleRequest{ID: fmt.Sprintf("s%02d", i), MaxAttempts: 1,
						Trigger: json.RawMessage(`{"type":"cron","expr":"* * * * *"}`),
						Policy:  store.Policy{Overlap: store.OverlapAllow}})
				}
				s.advance(10 * time.Minute)
				calls, _, peak := h.stats()
				if peak > tt.limit {
					t.Errorf("peak of %d calls in flight, MaxInFlight %d", peak, tt.limit)
				}
				// 10 minutes of 90 s calls, limit at a time: the bound
				// throttles, it does not stop the engine.
				if want := tt.limit * 5; calls < want {
					t.Errorf("%d calls in 10 minutes, want at least %d", calls, want)
				}
				var missed int
				for i := range n {
					missed += countStatus(s.history(fmt.Sprintf("s%02d", i)), store.StatusMissed)
				}
				if missed == 0 {
					t.Error("no fire held back by the bound was recorded missed")
				}
			})
		})
	}
}
