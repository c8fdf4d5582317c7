package scheduler_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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

// The tests in this file run inside a synctest bubble: time is simulated,
// so a three-day outage takes milliseconds, while the store is a real bbolt
// file. The handler is in memory (fakeHandler) because socket reads would
// keep the simulated clock from moving; real sockets are covered by
// scheduler_test.go and the real-process tests in test/integration.

// fakeHandler answers job calls with fn and records what it saw.
type fakeHandler struct {
	mu      sync.Mutex
	fn      func(ctx context.Context, req wire.Request) (wire.Reply, error)
	calls   []wire.Request
	cancels []string
	cur     int
	peak    int
	gos     int // calls sent by Go, the fast path
}

func (f *fakeHandler) dial(string, int, string) scheduler.Conn { return f }

func (f *fakeHandler) Call(ctx context.Context, req wire.Request) (wire.Reply, error) {
	f.mu.Lock()
	f.calls = append(f.calls, req)
	f.cur++
	f.peak = max(f.peak, f.cur)
	fn := f.fn
	f.mu.Unlock()
	defer func() { f.mu.Lock(); f.cur--; f.mu.Unlock() }()
	if fn == nil {
		return wire.Reply{Success: true, Raw: json.RawMessage(`{"success":true}`)}, nil
	}
	return fn(ctx, req)
}

// Go is the fast path's send (see scheduler.Conn), the route production
// takes for a first attempt that got a slot when it fired. Like
// wire.Conn.Go, the call ends at its timeout with
// context.DeadlineExceeded, or at abort with its cause.
func (f *fakeHandler) Go(req wire.Request, timeout time.Duration, done func(wire.Reply, error)) func(error) {
	f.mu.Lock()
	f.gos++
	f.mu.Unlock()
	ctx, abort := context.WithCancelCause(context.Background())
	go func() {
		callCtx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		r, err := f.Call(callCtx, req)
		if err != nil && ctx.Err() != nil {
			err = fmt.Errorf("%w (%w)", wire.ErrTimeout, context.Cause(ctx)) // sent: outcome unknown
		}
		abort(nil)
		done(r, err)
	}()
	return abort
}

func (f *fakeHandler) Cancel(_ context.Context, id string, _ int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cancels = append(f.cancels, id)
	return nil
}

func (f *fakeHandler) Close() error { return nil }

// fastCalls is the number of calls sent by Go.
func (f *fakeHandler) fastCalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.gos
}

func (f *fakeHandler) stats() (calls, cancels, peak int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls), len(f.cancels), f.peak
}

// sleepFor is a handler body that takes d of simulated time, or until the
// attempt is cancelled.
func sleepFor(d time.Duration) func(context.Context, wire.Request) (wire.Reply, error) {
	return func(ctx context.Context, _ wire.Request) (wire.Reply, error) {
		select {
		case <-time.After(d):
			return wire.Reply{Success: true, Raw: json.RawMessage(`{"success":true}`)}, nil
		case <-ctx.Done():
			return wire.Reply{}, ctx.Err()
		}
	}
}

// sim is an engine in a bubble over a store that outlives restarts.
type sim struct {
	t   *testing.T
	db  *store.DB
	h   *fakeHandler
	eng *scheduler.Scheduler
}

func newSim(t *testing.T, h *fakeHandler) *sim {
	// The bubble's clock starts at midnight, on an occurrence of most
	// triggers; start half a minute later so that tests count from there.
	time.Sleep(30 * time.Second)
	s := &sim{t: t, db: storetest.New(t), h: h}
	s.start()
	if _, err := s.eng.Registry().Register(context.Background(), wire.Registration{
		HandlerID: "h", Address: "mem://h", Methods: []string{"work"}, Protocol: 2, Concurrency: 64,
	}); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *sim) start() {
	s.t.Helper()
	eng, err := scheduler.New(context.Background(), scheduler.Options{
		Store: s.db, DialFunc: s.h.dial, Location: time.UTC,
		BackoffBase: time.Second, DefaultTimeout: time.Hour,
	})
	if err != nil {
		s.t.Fatal(err)
	}
	if err := eng.Start(context.Background()); err != nil {
		s.t.Fatal(err)
	}
	s.eng = eng
	s.t.Cleanup(s.stop)
}

func (s *sim) stop() {
	if s.eng == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = s.eng.Stop(ctx)
	s.eng = nil
}

func (s *sim) add(req schedtype.ScheduleRequest) store.Schedule {
	s.t.Helper()
	if req.HandlerID == "" {
		req.HandlerID, req.Method = "h", "work"
	}
	sch, err := s.eng.AddSchedule(context.Background(), req)
	if err != nil {
		s.t.Fatal(err)
	}
	return sch
}

// advance lets d of simulated time pass and everything settle.
func (s *sim) advance(d time.Duration) {
	time.Sleep(d)
	synctest.Wait()
}

// settle lets the runs started now end and their records land: on the
// fast path a success is committed lazily (store.CommitLazy), which waits
// a few milliseconds for company, so there is a timer to pass, not only
// goroutines to wait for.
func (s *sim) settle() { s.advance(time.Second) }

func (s *sim) history(id string) []store.Execution {
	s.t.Helper()
	recs, err := s.db.ListExecutions(context.Background(), store.ExecutionFilter{ScheduleID: id})
	if err != nil {
		s.t.Fatal(err)
	}
	slices.Reverse(recs) // oldest first
	return recs
}

func count(recs []store.Execution, st store.Status) int {
	n := 0
	for _, r := range recs {
		if r.Status == st {
			n++
		}
	}
	return n
}

func hourly(pol store.Policy) schedtype.ScheduleRequest {
	return schedtype.ScheduleRequest{ID: "hourly", Trigger: json.RawMessage(`{"type":"cron","expr":"0 * * * *"}`), Policy: pol, MaxAttempts: 1}
}

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
				if got := count(before, store.StatusSucceeded); got != 2 {
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
				if got := count(recs, store.StatusSucceeded); got != tt.wantRuns {
					t.Errorf("runs after restart: %d, want %d", got, tt.wantRuns)
				}
				missed := count(recs, store.StatusMissed)
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
				if got := count(after, store.StatusSucceeded) - count(before, store.StatusSucceeded) - tt.wantRuns; got != 1 {
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
		if runs, missed := count(recs, store.StatusSucceeded), count(recs, store.StatusMissed); runs != 1 || missed != 4 {
			t.Fatalf("after resume: %d runs, %d missed; want 1 and 4", runs, missed)
		}
		for _, r := range recs {
			if r.Status == store.StatusMissed && !strings.Contains(r.Error, "paused") {
				t.Fatalf("missed while paused, but the reason says %q", r.Error)
			}
		}
	})
}

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
			if count(recs, store.StatusMissed) == 0 {
				t.Error("no fire was recorded as missed")
			}
		}, 3},
		{"allow runs them side by side", store.Policy{Overlap: store.OverlapAllow}, 3, nil, 8},
		{"queue runs them one after another, bounded", store.Policy{Overlap: store.OverlapQueue, QueueLimit: 2}, 1, func(t *testing.T, recs []store.Execution, h *fakeHandler) {
			if count(recs, store.StatusMissed) == 0 {
				t.Error("a full queue recorded nothing as missed")
			}
		}, 3},
		{"replace cancels the running one", store.Policy{Overlap: store.OverlapReplace}, 2, func(t *testing.T, recs []store.Execution, h *fakeHandler) {
			if count(recs, store.StatusCancelled) < 5 {
				t.Errorf("%d cancelled records, want at least 5", count(recs, store.StatusCancelled))
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
				if got := count(recs, store.StatusSucceeded); got < tt.wantRunsA {
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

func TestRetry_BackoffSequenceAndOutcomes(t *testing.T) {
	failing := func(ctx context.Context, _ wire.Request) (wire.Reply, error) {
		return wire.Reply{Success: false, Error: "boom", Raw: json.RawMessage(`{"success":false,"error":"boom"}`)}, nil
	}
	synctest.Test(t, func(t *testing.T) {
		h := &fakeHandler{fn: failing}
		s := newSim(t, h)
		s.add(schedtype.ScheduleRequest{ID: "r", Trigger: json.RawMessage(`{"type":"interval","days":7}`), MaxAttempts: 5,
			Policy: store.Policy{Backoff: 10 * time.Second, BackoffMax: 30 * time.Second}})
		s.advance(10 * time.Minute)
		recs := s.history("r")
		if len(recs) != 5 || count(recs, store.StatusFailed) != 5 {
			t.Fatalf("attempts: %d records, %d failed; want 5 and 5", len(recs), count(recs, store.StatusFailed))
		}
		// Delay before attempt n+1 lies in [d/2, d] with d = 10s·2^(n-1) capped at 30s.
		caps := []time.Duration{10 * time.Second, 20 * time.Second, 30 * time.Second, 30 * time.Second}
		for i := 1; i < len(recs); i++ {
			if recs[i].Attempt != i+1 || recs[i].ID != recs[0].ID {
				t.Fatalf("record %d is attempt %d of %s", i, recs[i].Attempt, recs[i].ID)
			}
			gap := recs[i].StartedAt.Sub(recs[i-1].CompletedAt)
			if d := caps[i-1]; gap < d/2 || gap > d {
				t.Errorf("backoff before attempt %d: %v, want within [%v, %v]", i+1, gap, d/2, d)
			}
		}
	})
	synctest.Test(t, func(t *testing.T) {
		h := &fakeHandler{fn: failing}
		s := newSim(t, h)
		s.add(schedtype.ScheduleRequest{ID: "r", Trigger: json.RawMessage(`{"type":"interval","days":7}`), MaxAttempts: 5,
			Policy: store.Policy{RetryOn: []string{store.RetryOnTimeout}}})
		s.advance(10 * time.Minute)
		if got := len(s.history("r")); got != 1 {
			t.Fatalf("an error was retried though only timeouts are: %d attempts", got)
		}
	})
}

func TestTimeout_CancelsOnHandlerAndRecords(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := &fakeHandler{fn: sleepFor(time.Hour)}
		s := newSim(t, h)
		s.add(schedtype.ScheduleRequest{ID: "t", Trigger: json.RawMessage(`{"type":"interval","days":7}`), MaxAttempts: 1, Timeout: time.Minute})
		s.advance(2 * time.Minute)
		recs := s.history("t")
		if len(recs) != 1 || recs[0].Status != store.StatusTimedOut {
			t.Fatalf("records: %+v", recs)
		}
		if _, cancels, _ := h.stats(); cancels != 1 {
			t.Fatalf("handler told to cancel %d times, want 1", cancels)
		}
	})
}

func TestBackfill_RunsEachOccurrenceInOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := &fakeHandler{fn: sleepFor(time.Minute)}
		s := newSim(t, h)
		s.advance(10 * 24 * time.Hour)
		s.add(schedtype.ScheduleRequest{ID: "d", Trigger: json.RawMessage(`{"type":"cron","expr":"0 6 * * *"}`), MaxAttempts: 1})
		now := time.Now()
		res, err := s.eng.Backfill(context.Background(), "d", now.Add(-5*24*time.Hour), now)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Occurrences) != 5 {
			t.Fatalf("backfill of 5 days queued %d occurrences", len(res.Occurrences))
		}
		s.advance(time.Hour)
		recs := s.history("d")
		var got []time.Time
		for _, r := range recs {
			if r.Status == store.StatusSucceeded {
				got = append(got, r.ScheduledAt)
			}
		}
		if !slices.Equal(got, res.Occurrences) {
			t.Fatalf("ran %v, want %v in order", got, res.Occurrences)
		}
		if _, _, peak := h.stats(); peak != 1 {
			t.Fatalf("backfill ran %d at once, want one after another", peak)
		}
		if _, err := s.eng.Backfill(context.Background(), "d", now.Add(-10*365*24*time.Hour), now); err == nil {
			t.Fatal("an unbounded backfill was accepted")
		}
	})
}

func TestJitter_DelayBoundedOffsetStable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSim(t, &fakeHandler{})
		sch := s.add(schedtype.ScheduleRequest{ID: "j", Trigger: json.RawMessage(`{"type":"cron","expr":"0 * * * *"}`),
			Policy: store.Policy{RandomDelay: 5 * time.Minute, RandomOffset: 20 * time.Minute}})
		s.advance(6 * time.Hour)
		recs := s.history("j")
		if len(recs) < 5 {
			t.Fatalf("%d runs in 6 hours", len(recs))
		}
		var offset time.Duration = -1
		for _, r := range recs {
			late := r.StartedAt.Sub(r.ScheduledAt)
			if late < 0 || late > 25*time.Minute {
				t.Fatalf("run %v started %v after its occurrence", r.ScheduledAt, late)
			}
			if r.ScheduledAt.Minute() != 0 {
				t.Fatalf("occurrence %v is not the trigger's", r.ScheduledAt)
			}
			_ = offset
		}
		// The offset survives a restart: the next fire time is the same.
		next := sch.NextFire
		s.stop()
		s.start()
		got, _ := s.eng.GetSchedule(context.Background(), "j")
		if got.Policy.RandomOffset != 20*time.Minute || got.NextFire.IsZero() || next.IsZero() {
			t.Fatalf("policy lost across restart: %+v", got.Policy)
		}
	})
}

func TestMaxRuns_EndsSchedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := &fakeHandler{}
		s := newSim(t, h)
		s.add(schedtype.ScheduleRequest{ID: "m", Trigger: json.RawMessage(`{"type":"interval","minutes":1}`), Policy: store.Policy{MaxRuns: 3}})
		s.advance(10 * time.Minute)
		if calls, _, _ := h.stats(); calls != 3 {
			t.Fatalf("%d runs, want 3", calls)
		}
		sch, _ := s.eng.GetSchedule(context.Background(), "m")
		if !sch.Done || !sch.NextFire.IsZero() {
			t.Fatalf("schedule not done after max runs: %+v", sch)
		}
	})
}

func TestPolicy_Validation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSim(t, &fakeHandler{})
		for _, pol := range []store.Policy{{Misfire: "sometimes"}, {Overlap: "merge"}, {RetryOn: []string{"panic"}}, {GraceTime: -1}, {MaxRuns: -2}} {
			_, err := s.eng.AddSchedule(context.Background(), schedtype.ScheduleRequest{HandlerID: "h", Method: "work",
				Trigger: json.RawMessage(`{"type":"interval","minutes":1}`), Policy: pol})
			if err == nil {
				t.Fatalf("policy %+v accepted", pol)
			}
			if !strings.Contains(err.Error(), "use") {
				t.Errorf("error %q gives no fix", err)
			}
			var target interface{ Error() string }
			if !errors.As(err, &target) {
				t.Fatal(err)
			}
		}
		_ = fmt.Sprint()
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

func TestCalendarSchedule_FiresOnSystemdCalendar(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := &fakeHandler{}
		s := newSim(t, h) // Saturday 2000-01-01 00:00:30 UTC
		s.add(schedtype.ScheduleRequest{ID: "cal", Trigger: json.RawMessage(`{"type":"calendar","expr":"Mon..Fri *-*-* 09:00"}`)})
		s.advance(7 * 24 * time.Hour)
		recs := s.history("cal")
		if len(recs) != 5 {
			t.Fatalf("%d runs in a week of weekdays at 09:00, want 5", len(recs))
		}
		for _, r := range recs {
			if wd := r.ScheduledAt.Weekday(); wd == time.Saturday || wd == time.Sunday || r.ScheduledAt.Hour() != 9 {
				t.Fatalf("ran at %v", r.ScheduledAt)
			}
		}
	})
}

// Editing a schedule keeps its history and validates like a new one; a
// new time zone alone moves a wall-clock trigger to that zone.
func TestUpdateSchedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSim(t, &fakeHandler{}) // 2000-01-01 00:00:30 UTC
		s.add(schedtype.ScheduleRequest{ID: "nine", Trigger: json.RawMessage(`{"type":"cron","expr":"0 9 * * *"}`), Timezone: "UTC"})
		s.advance(24 * time.Hour)
		if n := len(s.history("nine")); n != 1 {
			t.Fatalf("%d runs in the first day, want 1", n)
		}

		ctx := context.Background()
		zone := "America/New_York"
		sch, err := s.eng.UpdateSchedule(ctx, "nine", schedtype.ScheduleUpdate{Timezone: &zone})
		if err != nil {
			t.Fatal(err)
		}
		ny, _ := time.LoadLocation(zone)
		if got := sch.NextFire.In(ny); got.Hour() != 9 || got.Minute() != 0 {
			t.Fatalf("after moving to %s the next fire is %v, want 09:00 there", zone, got)
		}
		if n := len(s.history("nine")); n != 1 {
			t.Fatalf("the edit lost history: %d records, want 1", n)
		}

		bad := "nosuch"
		neg := -time.Second
		for _, tc := range []struct {
			name  string
			u     schedtype.ScheduleUpdate
			field string
		}{
			{"unknown method", schedtype.ScheduleUpdate{Method: &bad}, "job_method"},
			{"negative timeout", schedtype.ScheduleUpdate{Timeout: &neg}, "timeout"},
			{"unknown zone", schedtype.ScheduleUpdate{Timezone: &bad}, "timezone"},
		} {
			_, err := s.eng.UpdateSchedule(ctx, "nine", tc.u)
			if err == nil || !strings.Contains(err.Error(), tc.field) {
				t.Errorf("%s: UpdateSchedule error = %v, want one naming %q", tc.name, err, tc.field)
			}
		}
		got, err := s.eng.GetSchedule(ctx, "nine")
		if err != nil {
			t.Fatal(err)
		}
		if got.Method != "work" || got.Timeout != 0 || got.Timezone != zone {
			t.Errorf("a refused edit changed the schedule: %+v", got)
		}
	})
}
