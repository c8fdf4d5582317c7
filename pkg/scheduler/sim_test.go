package scheduler_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
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

// The tests of the policies (policy_test.go, misfire_test.go,
// overlap_test.go) run inside a synctest bubble on this harness: time is
// simulated, so a three-day outage takes milliseconds, while the store is
// a real bbolt file. The handler is in memory (fakeHandler) because socket
// reads would keep the simulated clock from moving; real sockets are
// covered by scheduler_test.go, handlers_test.go and the real-process
// tests in test/integration.

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
	// tune, when set, adjusts the options of every start.
	tune func(*scheduler.Options)
}

func newSim(t *testing.T, h *fakeHandler) *sim { return newSimWith(t, h, nil) }

// newSimWith is newSim with tune applied to the engine's options.
func newSimWith(t *testing.T, h *fakeHandler, tune func(*scheduler.Options)) *sim {
	// The bubble's clock starts at midnight, on an occurrence of most
	// triggers; start half a minute later so that tests count from there.
	time.Sleep(30 * time.Second)
	s := &sim{t: t, db: storetest.New(t), h: h, tune: tune}
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
	opts := scheduler.Options{
		Store: s.db, DialFunc: s.h.dial, Location: time.UTC,
		BackoffBase: time.Second, DefaultTimeout: time.Hour,
	}
	if s.tune != nil {
		s.tune(&opts)
	}
	eng, err := scheduler.New(context.Background(), opts)
	if err != nil {
		s.t.Fatal(err)
	}
	eng.UseRuntimeTimers() // the bubble's clock
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

func hourly(pol store.Policy) schedtype.ScheduleRequest {
	return schedtype.ScheduleRequest{ID: "hourly", Trigger: json.RawMessage(`{"type":"cron","expr":"0 * * * *"}`), Policy: pol, MaxAttempts: 1}
}
