package scheduler_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/schedulezero/schedulezero/pkg/handler"
	"github.com/schedulezero/schedulezero/pkg/scheduler"
	"github.com/schedulezero/schedulezero/pkg/scheduler/schedtype"
	"github.com/schedulezero/schedulezero/pkg/store"
	"github.com/schedulezero/schedulezero/pkg/store/storetest"
	"github.com/schedulezero/schedulezero/pkg/wire/wiretest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// bundle is a running engine with its registration server, over a real
// bbolt file and real ZeroMQ sockets.
type bundle struct {
	db     *store.DB
	engine *scheduler.Scheduler
	zmq    string
}

func setup(t testing.TB, opts scheduler.Options) *bundle {
	t.Helper()
	db := opts.Store
	if db == nil {
		db = storetest.New(t)
		opts.Store = db
	}
	if opts.BackoffBase == 0 {
		opts.BackoffBase = 10 * time.Millisecond
	}
	if opts.MinInterval == 0 {
		opts.MinInterval = 10 * time.Millisecond // tests fire every few ms
	}
	ctx := context.Background()
	eng, err := scheduler.New(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := wiretest.Serve(t, eng.Registry())
	if err := eng.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		_ = eng.Stop(sctx)
	})
	return &bundle{db: db, engine: eng, zmq: srv.Addr()}
}

// serveHandler runs a Go handler named name with the given methods until the
// test ends, and waits until the engine knows it.
func (b *bundle) serveHandler(t testing.TB, name string, concurrency int, mux *handler.Mux) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- handler.Serve(ctx, mux, handler.Options{
			Name:        name,
			Endpoint:    wiretest.IPC(t, name),
			Scheduler:   b.zmq,
			Concurrency: concurrency,
			Logger:      slog.New(slog.DiscardHandler),
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("handler %s: %v", name, err)
		}
	})
	await(t, fmt.Sprintf("handler %s online", name), func() bool {
		hs, _ := b.engine.Handlers(context.Background())
		for _, h := range hs {
			if h.ID == name && h.Status == "online" {
				return true
			}
		}
		return false
	})
}

// await polls cond until it holds or 10 s pass.
func await(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (b *bundle) executions(t *testing.T, f store.ExecutionFilter) []store.Execution {
	t.Helper()
	recs, err := b.db.ListExecutions(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func countStatus(recs []store.Execution, s store.Status) int {
	n := 0
	for _, r := range recs {
		if r.Status == s {
			n++
		}
	}
	return n
}

func okMux(calls *atomic.Int64) *handler.Mux {
	mux := handler.NewMux()
	mux.HandleFunc("work", func(ctx context.Context, job *handler.Job) (any, error) {
		calls.Add(1)
		return map[string]any{"done": true}, nil
	})
	return mux
}

func TestScheduler_IntervalFiresAndRecordsEveryAttempt(t *testing.T) {
	b := setup(t, scheduler.Options{})
	var calls atomic.Int64
	b.serveHandler(t, "h1", 4, okMux(&calls))

	s, err := b.engine.AddSchedule(context.Background(), schedtype.ScheduleRequest{
		ID: "tick", HandlerID: "h1", Method: "work",
		Params:  json.RawMessage(`{"n":1}`),
		Trigger: json.RawMessage(`{"type":"interval","seconds":0.05}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	if s.NextFire.IsZero() {
		t.Fatal("new interval schedule has no next fire time")
	}
	await(t, "3 successful executions", func() bool {
		return countStatus(b.executions(t, store.ExecutionFilter{ScheduleID: "tick"}), store.StatusSucceeded) >= 3
	})
	for _, r := range b.executions(t, store.ExecutionFilter{ScheduleID: "tick", Status: store.StatusSucceeded}) {
		if r.ID == "" || r.Attempt != 1 || r.HandlerID != "h1" || r.Method != "work" || r.StartedAt.IsZero() || r.CompletedAt.IsZero() {
			t.Fatalf("incomplete record: %+v", r)
		}
		if string(r.ParamsSummary) != `{"n":1}` {
			t.Fatalf("params summary = %q", r.ParamsSummary)
		}
	}
}

func TestScheduler_DateFiresOnceThenCompletes(t *testing.T) {
	b := setup(t, scheduler.Options{})
	var calls atomic.Int64
	b.serveHandler(t, "h1", 4, okMux(&calls))
	at := time.Now().Add(100 * time.Millisecond).UTC().Format(time.RFC3339Nano)
	_, err := b.engine.AddSchedule(context.Background(), schedtype.ScheduleRequest{
		ID: "once", HandlerID: "h1", Method: "work",
		Trigger: json.RawMessage(`{"type":"date","run_date":"` + at + `"}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	await(t, "the date schedule to complete", func() bool {
		s, err := b.engine.GetSchedule(context.Background(), "once")
		return err == nil && s.Done
	})
	await(t, "its execution to succeed", func() bool {
		return countStatus(b.executions(t, store.ExecutionFilter{ScheduleID: "once"}), store.StatusSucceeded) == 1
	})
	s, _ := b.engine.GetSchedule(context.Background(), "once")
	if s.FireCount != 1 || !s.NextFire.IsZero() {
		t.Fatalf("after firing: fire_count=%d next=%v", s.FireCount, s.NextFire)
	}
	if got := calls.Load(); got != 1 {
		t.Fatalf("handler called %d times, want 1", got)
	}
}
