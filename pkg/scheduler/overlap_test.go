package scheduler_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/schedulezero/schedulezero/pkg/scheduler/schedtype"
	"github.com/schedulezero/schedulezero/pkg/store"
	"github.com/schedulezero/schedulezero/pkg/wire"
)

// A job that takes 150 s on a schedule that fires every minute, for each
// overlap policy.
func TestOverlap_Policies(t *testing.T) {
	tests := []struct {
		name      string
		pol       store.Policy
		wantPeak  int
		check     func(t *testing.T, recs []store.Execution, h *fakeHandler)
		wantRunsA int // lower bound of successful runs in 10 minutes
	}{
		{"skip records the overlapping fires as missed", store.Policy{Overlap: store.OverlapSkip}, 1, func(t *testing.T, recs []store.Execution, h *fakeHandler) {
			if countStatus(recs, store.StatusMissed) == 0 {
				t.Error("no fire was recorded as missed")
			}
		}, 3},
		{"allow runs them side by side", store.Policy{Overlap: store.OverlapAllow}, 3, nil, 8},
		{"queue runs them one after another, bounded", store.Policy{Overlap: store.OverlapQueue, QueueLimit: 2}, 1, func(t *testing.T, recs []store.Execution, h *fakeHandler) {
			if countStatus(recs, store.StatusMissed) == 0 {
				t.Error("a full queue recorded nothing as missed")
			}
		}, 3},
		{"replace cancels the running one", store.Policy{Overlap: store.OverlapReplace}, 2, func(t *testing.T, recs []store.Execution, h *fakeHandler) {
			if countStatus(recs, store.StatusCancelled) < 5 {
				t.Errorf("%d cancelled records, want at least 5", countStatus(recs, store.StatusCancelled))
			}
			if _, cancels, _ := h.stats(); cancels < 5 {
				t.Errorf("the handler was told to cancel %d times, want at least 5", cancels)
			}
		}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := &fakeHandler{fn: sleepFor(150 * time.Second)}
				s := newSim(t, h)
				s.add(schedtype.ScheduleRequest{ID: "m", Trigger: json.RawMessage(`{"type":"cron","expr":"* * * * *"}`), Policy: tt.pol, MaxAttempts: 1})
				s.advance(10*time.Minute + 30*time.Second)
				recs := s.history("m")
				if _, _, peak := h.stats(); peak > tt.wantPeak {
					t.Errorf("peak concurrency %d, policy allows %d", peak, tt.wantPeak)
				}
				if got := countStatus(recs, store.StatusSucceeded); got < tt.wantRunsA {
					t.Errorf("%d successful runs, want at least %d", got, tt.wantRunsA)
				}
				if tt.check != nil {
					tt.check(t, recs, h)
				}
			})
		})
	}
}

// Many concurrent manual runs against overlap=skip: exactly one runs.
func TestOverlap_SkipNeverRaces(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		h := &fakeHandler{fn: func(ctx context.Context, _ wire.Request) (wire.Reply, error) {
			select {
			case <-release:
				return wire.Reply{Success: true, Raw: json.RawMessage(`{"success":true}`)}, nil
			case <-ctx.Done():
				return wire.Reply{}, ctx.Err()
			}
		}}
		s := newSim(t, h)
		s.add(schedtype.ScheduleRequest{ID: "x", Trigger: json.RawMessage(`{"type":"interval","days":7}`), Policy: store.Policy{Overlap: store.OverlapSkip}})
		synctest.Wait() // the first fire runs now and holds for an hour
		var wg sync.WaitGroup
		var mu sync.Mutex
		answered := map[string]bool{}
		for range 200 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				e, err := s.eng.TriggerSchedule(context.Background(), "x", false)
				if err != nil || e.Status != store.StatusMissed || e.ID == "" {
					t.Errorf("TriggerSchedule while running = %+v, %v; want its missed record", e, err)
					return
				}
				mu.Lock()
				answered[e.ID] = true
				mu.Unlock()
			}()
		}
		wg.Wait()
		synctest.Wait()
		if calls, _, peak := h.stats(); calls != 1 || peak != 1 {
			t.Fatalf("%d calls, peak %d; want exactly one run", calls, peak)
		}
		// A skip asked for by hand is recorded at once, each with its own
		// record, whose id was the answer.
		var missed []store.Execution
		for _, r := range s.history("x") {
			if r.Status == store.StatusMissed {
				missed = append(missed, r)
				if !answered[r.ID] || !strings.Contains(r.Error, "was still running (overlap policy skip") {
					t.Fatalf("missed record %+v: not an answer, or without the reason", r)
				}
			}
		}
		if len(missed) != 200 || len(answered) != 200 {
			t.Fatalf("%d missed records, %d distinct answers for 200 skipped runs", len(missed), len(answered))
		}
		if sch, err := s.eng.GetSchedule(context.Background(), "x"); err != nil || sch.MissedCount != 200 {
			t.Fatalf("schedule missed count: %+v, %v; want 200", sch, err)
		}
		close(release)
		synctest.Wait()
		if _, err := s.eng.TriggerSchedule(context.Background(), "x", true); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if calls, _, _ := h.stats(); calls != 2 {
			t.Fatalf("--force did not run: %d calls", calls)
		}
	})
}
