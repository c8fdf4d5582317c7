package scheduler_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/handler"
	"github.com/schedulezero/schedulezero/pkg/scheduler"
	"github.com/schedulezero/schedulezero/pkg/scheduler/schedtype"
	"github.com/schedulezero/schedulezero/pkg/store"
	"github.com/schedulezero/schedulezero/pkg/store/storetest"
)

// The fast path (async.go) takes a scheduled fire whose handler connection
// is up. These tests warm the connection with one run, then check that a
// fire on the fast path ends like one on the goroutine path would.

func warm(t *testing.T, b *bundle, handlerID string) {
	t.Helper()
	ex, err := b.engine.RunNow(context.Background(), schedtype.RunRequest{HandlerID: handlerID, Method: "work", Timeout: 10 * time.Second})
	if err != nil || ex.Status != store.StatusSucceeded {
		t.Fatalf("warm-up run: %+v, %v", ex, err)
	}
}

func dateIn(d time.Duration) json.RawMessage {
	return json.RawMessage(`{"type":"date","run_date":"` + time.Now().Add(d).UTC().Format(time.RFC3339Nano) + `"}`)
}

func TestFastPath_TimeoutRetriesAndNeverResends(t *testing.T) {
	b := setup(t, scheduler.Options{})
	var calls, slow atomic.Int64
	release := make(chan struct{})
	mux := okMux(&calls)
	mux.HandleFunc("slow", func(ctx context.Context, job *handler.Job) (any, error) {
		slow.Add(1)
		<-release // ignores its deadline
		return nil, nil
	})
	b.serveHandler(t, "h", 8, mux)
	defer close(release)
	warm(t, b, "h")
	if _, err := b.engine.AddSchedule(context.Background(), schedtype.ScheduleRequest{
		ID: "s", HandlerID: "h", Method: "slow", MaxAttempts: 2, Timeout: 200 * time.Millisecond, Trigger: dateIn(50 * time.Millisecond),
	}); err != nil {
		t.Fatal(err)
	}
	await(t, "two timed-out attempts", func() bool {
		return countStatus(b.executions(t, store.ExecutionFilter{ScheduleID: "s"}), store.StatusTimedOut) == 2
	})
	if got := slow.Load(); got != 2 {
		t.Fatalf("handler received %d calls for 2 attempts", got)
	}
}

func TestFastPath_ReplaceCancelsTheCallOnTheHandler(t *testing.T) {
	b := setup(t, scheduler.Options{})
	var calls atomic.Int64
	cancelled := make(chan string, 8)
	mux := okMux(&calls)
	done := make(chan struct{})
	mux.HandleFunc("block", func(ctx context.Context, job *handler.Job) (any, error) {
		select {
		case <-ctx.Done():
			cancelled <- job.ExecutionID
			return nil, ctx.Err()
		case <-done: // the test is over
			return nil, nil
		}
	})
	b.serveHandler(t, "h", 8, mux)
	defer close(done)
	warm(t, b, "h")
	if _, err := b.engine.AddSchedule(context.Background(), schedtype.ScheduleRequest{
		ID: "r", HandlerID: "h", Method: "block", MaxAttempts: 1, Timeout: time.Hour,
		Trigger: json.RawMessage(`{"type":"interval","seconds":0.3}`),
		Policy:  store.Policy{Overlap: store.OverlapReplace},
	}); err != nil {
		t.Fatal(err)
	}
	var first string
	select {
	case first = <-cancelled:
	case <-time.After(10 * time.Second):
		t.Fatal("the replaced job was not cancelled on the handler")
	}
	await(t, "the replaced attempt recorded cancelled", func() bool {
		recs := b.executions(t, store.ExecutionFilter{ExecutionID: first})
		return len(recs) == 1 && recs[0].Status == store.StatusCancelled && strings.Contains(recs[0].Error, "replaced")
	})
	if _, err := b.engine.PauseSchedule(context.Background(), "r"); err != nil {
		t.Fatal(err)
	}
}

func TestFastPath_StopBudgetLeavesTheAttemptRunning(t *testing.T) {
	db := storetest.New(t)
	b := setup(t, scheduler.Options{Store: db})
	var calls atomic.Int64
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	mux := okMux(&calls)
	mux.HandleFunc("stuck", func(ctx context.Context, job *handler.Job) (any, error) {
		started <- struct{}{}
		<-release
		return nil, nil
	})
	b.serveHandler(t, "h", 8, mux)
	defer close(release)
	warm(t, b, "h")
	if _, err := b.engine.AddSchedule(context.Background(), schedtype.ScheduleRequest{
		ID: "x", HandlerID: "h", Method: "stuck", Timeout: time.Hour, Trigger: dateIn(50 * time.Millisecond),
	}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("the job did not start")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	begin := time.Now()
	if err := b.engine.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(begin); d > 5*time.Second {
		t.Fatalf("Stop took %v with a 300ms budget", d)
	}
	u, err := db.Unfinished(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(u) != 1 || u[0].Status != store.StatusRunning || u[0].ScheduleID != "x" {
		t.Fatalf("unfinished after stop: %+v; want the attempt in flight, running", u)
	}
}
