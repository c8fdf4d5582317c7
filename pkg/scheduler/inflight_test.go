package scheduler_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/schedulezero/schedulezero/pkg/scheduler"
	"github.com/schedulezero/schedulezero/pkg/scheduler/schedtype"
	"github.com/schedulezero/schedulezero/pkg/store"
	"github.com/schedulezero/schedulezero/pkg/wire"
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

// Executions waiting for a busy handler's slot do not count against
// MaxInFlight: 40 schedules queue on a handler with one slot, and the
// schedule of another handler still fires every minute, none missed
// (counting every execution in flight, the queue held the loop).
func TestMaxInFlight_QueuedOnABusyHandlerDoNotStopOthers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := &fakeHandler{fn: sleepFor(90 * time.Second)}
		s := newSimWith(t, h, func(o *scheduler.Options) { o.MaxInFlight = 4 })
		ctx := context.Background()
		for _, r := range []wire.Registration{
			{HandlerID: "h", Address: "mem://h", Methods: []string{"work"}, Protocol: 2, Concurrency: 1},
			{HandlerID: "b", Address: "mem://b", Methods: []string{"work"}, Protocol: 2, Concurrency: 64},
		} {
			if _, err := s.eng.Registry().Register(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		for i := range 40 {
			s.add(schedtype.ScheduleRequest{ID: fmt.Sprintf("s%02d", i), MaxAttempts: 1,
				Trigger: json.RawMessage(`{"type":"cron","expr":"* * * * *"}`),
				Policy:  store.Policy{Overlap: store.OverlapAllow}})
		}
		s.add(schedtype.ScheduleRequest{ID: "other", HandlerID: "b", Method: "work", MaxAttempts: 1,
			Trigger: json.RawMessage(`{"type":"cron","expr":"* * * * *"}`),
			Policy:  store.Policy{Overlap: store.OverlapAllow}})
		s.advance(10 * time.Minute)
		hist := s.history("other")
		if missed := countStatus(hist, store.StatusMissed); missed > 0 || len(hist) < 9 {
			t.Errorf("the other handler's schedule: %d executions, %d missed; want every minute's, none missed", len(hist), missed)
		}
	})
}
