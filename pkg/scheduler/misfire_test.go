package scheduler_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/schedulezero/schedulezero/pkg/scheduler"
	"github.com/schedulezero/schedulezero/pkg/scheduler/schedtype"
	"github.com/schedulezero/schedulezero/pkg/store"
	"github.com/schedulezero/schedulezero/pkg/store/storetest"
	"github.com/schedulezero/schedulezero/pkg/wire"
)

// A three-day outage of the scheduler, for each misfire policy.
func TestMisfire_ThreeDayOutage(t *testing.T) {
	tests := []struct {
		name       string
		pol        store.Policy
		wantRuns   int // runs for the 72 missed occurrences
		wantMissed int
	}{
		{"once runs the latest", store.Policy{Misfire: store.MisfireOnce}, 1, 71},
		{"skip runs none", store.Policy{Misfire: store.MisfireSkip}, 0, 72},
		{"all runs each up to the limit", store.Policy{Misfire: store.MisfireAll, MisfireLimit: 10}, 10, 62},
		{"default is once", store.Policy{}, 1, 71},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := newSim(t, &fakeHandler{})
				s.add(hourly(tt.pol))
				s.advance(2*time.Hour + 30*time.Minute) // fires at 01:00 and 02:00
				before := s.history("hourly")
				if got := countStatus(before, store.StatusSucceeded); got != 2 {
					t.Fatalf("before the outage: %d runs, want 2", got)
				}
				s.stop()
				time.Sleep(72 * time.Hour) // down from 02:30 to 02:30 three days later
				s.start()
				s.settle()

				recs := s.history("hourly")[len(before):]
				if s.h.fastCalls() == 0 && tt.wantRuns > 0 {
					t.Error("no call took the fast path (Go): this test would not run production's route")
				}
				if got := countStatus(recs, store.StatusSucceeded); got != tt.wantRuns {
					t.Errorf("runs after restart: %d, want %d", got, tt.wantRuns)
				}
				missed := countStatus(recs, store.StatusMissed)
				if missed != tt.wantMissed {
					t.Errorf("missed records: %d, want %d", missed, tt.wantMissed)
				}
				for _, r := range recs {
					if r.Status == store.StatusMissed && !strings.Contains(r.Error, "not running") {
						t.Fatalf("missed record without the reason: %q", r.Error)
					}
				}
				sch, _ := s.eng.GetSchedule(context.Background(), "hourly")
				if sch.MissedCount != int64(tt.wantMissed) {
					t.Errorf("schedule missed_count = %d, want %d", sch.MissedCount, tt.wantMissed)
				}
				// Each occurrence is accounted for exactly once: 72 occurrences
				// from 03:00 day 0 to 02:00 day 3.
				seen := map[time.Time]int{}
				for _, r := range recs {
					seen[r.ScheduledAt]++
				}
				if len(seen) != 72 {
					t.Errorf("%d distinct occurrences recorded, want 72", len(seen))
				}
				for occ, n := range seen {
					if n != 1 {
						t.Errorf("occurrence %v recorded %d times", occ, n)
					}
				}
				// Catch-up runs of "all" run in order, one at a time.
				var runs []time.Time
				for _, r := range recs {
					if r.Status == store.StatusSucceeded {
						runs = append(runs, r.ScheduledAt)
					}
				}
				if !slices.IsSortedFunc(runs, func(a, b time.Time) int { return a.Compare(b) }) {
					t.Errorf("catch-up runs out of order: %v", runs)
				}
				// And the schedule goes on at the next hour, once.
				s.advance(time.Hour)
				after := s.history("hourly")
				if got := countStatus(after, store.StatusSucceeded) - countStatus(before, store.StatusSucceeded) - tt.wantRuns; got != 1 {
					t.Errorf("runs in the hour after catching up: %d, want 1", got)
				}
			})
		})
	}
}

// Restarting does not fire an occurrence that already fired.
func TestMisfire_RestartDoesNotRefire(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := &fakeHandler{}
		s := newSim(t, h)
		s.add(hourly(store.Policy{}))
		s.advance(time.Hour + time.Minute)
		for range 5 {
			s.stop()
			s.start()
			synctest.Wait()
		}
		if calls, _, _ := h.stats(); calls != 1 {
			t.Fatalf("%d calls after 5 restarts within the hour, want 1", calls)
		}
	})
}

func TestPauseResume_MissedWhilePausedFollowsPolicy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSim(t, &fakeHandler{})
		s.add(hourly(store.Policy{}))
		s.advance(30 * time.Minute)
		if _, err := s.eng.PauseSchedule(context.Background(), "hourly"); err != nil {
			t.Fatal(err)
		}
		s.advance(5 * time.Hour) // 01:00 .. 05:00 fall in the pause
		if got := len(s.history("hourly")); got != 0 {
			t.Fatalf("a paused schedule fired: %d records", got)
		}
		if _, err := s.eng.ResumeSchedule(context.Background(), "hourly"); err != nil {
			t.Fatal(err)
		}
		s.settle()
		recs := s.history("hourly")
		if runs, missed := countStatus(recs, store.StatusSucceeded), countStatus(recs, store.StatusMissed); runs != 1 || missed != 4 {
			t.Fatalf("after resume: %d runs, %d missed; want 1 and 4", runs, missed)
		}
		for _, r := range recs {
			if r.Status == store.StatusMissed && !strings.Contains(r.Error, "paused") {
				t.Fatalf("missed while paused, but the reason says %q", r.Error)
			}
		}
	})
}

// The host's wall clock jumps forward and back. Forward: what became due
// fires once at once (the misfire policy), not after the old timer. Back:
// nothing fires twice.
func TestClockJumps_NoDoubleFireNoStall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		time.Sleep(30 * time.Second)
		var mu sync.Mutex
		var skew time.Duration
		now := func() time.Time { mu.Lock(); defer mu.Unlock(); return time.Now().Add(skew) }
		jump := func(d time.Duration) { mu.Lock(); skew += d; mu.Unlock() }
		h := &fakeHandler{}
		eng, err := scheduler.New(context.Background(), scheduler.Options{Store: storetest.New(t), DialFunc: h.dial, NowFunc: now, Location: time.UTC})
		if err != nil {
			t.Fatal(err)
		}
		eng.UseRuntimeTimers() // the bubble's clock
		if err := eng.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		defer eng.Stop(context.Background())
		if _, err := eng.Registry().Register(context.Background(), wire.Registration{HandlerID: "h", Address: "mem://h", Protocol: 2, Concurrency: 8}); err != nil {
			t.Fatal(err)
		}
		if _, err := eng.AddSchedule(context.Background(), schedtype.ScheduleRequest{ID: "c", HandlerID: "h", Method: "work",
			Trigger: json.RawMessage(`{"type":"cron","expr":"0 * * * *"}`)}); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		jump(3 * time.Hour) // 00:00:30 → 03:00:30: 01:00, 02:00, 03:00 became due
		eng.Nudge()         // what the wall clock watch does
		synctest.Wait()
		if calls, _, _ := h.stats(); calls != 1 {
			t.Fatalf("after a 3 h jump forward: %d calls, want 1 at once", calls)
		}
		sch, _ := eng.GetSchedule(context.Background(), "c")
		if sch.MissedCount != 2 {
			t.Fatalf("missed_count %d, want 2", sch.MissedCount)
		}
		jump(-2 * time.Hour) // back to 01:00:30; 02:00 and 03:00 already fired or were missed
		eng.Nudge()
		time.Sleep(2 * time.Hour) // the clock walks through 02:00 and 03:00 again
		synctest.Wait()
		if calls, _, _ := h.stats(); calls != 1 {
			t.Fatalf("after a jump back: %d calls, want still 1", calls)
		}
		time.Sleep(time.Hour) // 04:00 is new
		synctest.Wait()
		if calls, _, _ := h.stats(); calls != 2 {
			t.Fatalf("the next new occurrence: %d calls, want 2", calls)
		}
	})
}

func TestDate_PastFiresOnceAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := &fakeHandler{}
		s := newSim(t, h)
		past := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
		s.add(schedtype.ScheduleRequest{ID: "late", Trigger: json.RawMessage(`{"type":"date","run_date":"` + past + `"}`)})
		s.advance(time.Hour)
		if calls, _, _ := h.stats(); calls != 1 {
			t.Fatalf("a past date fired %d times, want 1", calls)
		}
		sch, _ := s.eng.GetSchedule(context.Background(), "late")
		if !sch.Done {
			t.Fatal("the date schedule is not done")
		}
	})
}
