package scheduler_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/handler"
	"github.com/schedulezero/schedulezero/pkg/scheduler"
	"github.com/schedulezero/schedulezero/pkg/scheduler/schedtype"
	"github.com/schedulezero/schedulezero/pkg/store"
	"github.com/schedulezero/schedulezero/pkg/wire"
	"github.com/schedulezero/schedulezero/pkg/wire/wiretest"
)

// The original re-sent a job whose reply was slower than its socket timeout,
// so it ran two or three times. Here a slow reply ends the attempt as timed
// out, and each attempt reaches the handler exactly once.
func TestScheduler_SlowReplyIsNeverResent(t *testing.T) {
	b := setup(t, scheduler.Options{})
	var calls atomic.Int64
	release := make(chan struct{})
	mux := handler.NewMux()
	mux.HandleFunc("slow", func(ctx context.Context, job *handler.Job) (any, error) {
		calls.Add(1)
		<-release // a job that ignores its deadline, like the original's long jobs
		return nil, nil
	})
	b.serveHandler(t, "slowpoke", 4, mux)
	defer close(release)

	ex, err := b.engine.RunNow(context.Background(), schedtype.RunRequest{
		HandlerID: "slowpoke", Method: "slow", MaxAttempts: 2, Timeout: 200 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if ex.Status != store.StatusTimedOut || ex.Attempt != 2 {
		t.Fatalf("final attempt: status=%s attempt=%d, want timeout on attempt 2", ex.Status, ex.Attempt)
	}
	recs := b.executions(t, store.ExecutionFilter{ExecutionID: ex.ID})
	if len(recs) != 2 || countStatus(recs, store.StatusTimedOut) != 2 {
		t.Fatalf("records: %+v", recs)
	}
	if got := calls.Load(); got != 2 {
		t.Fatalf("handler received %d calls for 2 attempts", got)
	}
}

func TestScheduler_OfflineHandlerFailsWithReasonAfterDeadline(t *testing.T) {
	b := setup(t, scheduler.Options{})
	var calls atomic.Int64
	b.serveHandler(t, "gone", 1, okMux(&calls))
	if err := b.engine.Registry().ReportStatus(context.Background(), "gone", "offline"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	ex, err := b.engine.RunNow(context.Background(), schedtype.RunRequest{HandlerID: "gone", Method: "work", Timeout: 150 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if ex.Status != store.StatusFailed || ex.Error == "" {
		t.Fatalf("got status=%s error=%q", ex.Status, ex.Error)
	}
	if !strings.Contains(ex.Error, "offline") {
		t.Fatalf("reason %q does not say the handler is offline", ex.Error)
	}
	if el := time.Since(start); el < 150*time.Millisecond || el > 5*time.Second {
		t.Fatalf("waited %v; want about the 150ms deadline", el)
	}
	if calls.Load() != 0 {
		t.Fatal("an offline handler was called")
	}
}

func TestScheduler_ConcurrencyLimitPerHandler(t *testing.T) {
	b := setup(t, scheduler.Options{})
	var cur, peak atomic.Int64
	gate := make(chan struct{})
	mux := handler.NewMux()
	mux.HandleFunc("hold", func(ctx context.Context, job *handler.Job) (any, error) {
		n := cur.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		<-gate
		cur.Add(-1)
		return nil, nil
	})
	b.serveHandler(t, "narrow", 2, mux)
	var wg sync.WaitGroup
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = b.engine.RunNow(context.Background(), schedtype.RunRequest{HandlerID: "narrow", Method: "hold", Timeout: 10 * time.Second})
		}()
	}
	await(t, "two jobs running", func() bool { return cur.Load() == 2 })
	close(gate)
	wg.Wait()
	if p := peak.Load(); p != 2 {
		t.Fatalf("peak concurrency %d, want exactly the limit 2", p)
	}
}

// A handler that stops says "offline" on the registration socket after it
// has answered its last job on the job socket; the scheduler may read the
// two in either order. The reply must still count.
func TestScheduler_OfflineBeforeReplyStillRecordsSuccess(t *testing.T) {
	b := setup(t, scheduler.Options{})
	mux := handler.NewMux()
	mux.HandleFunc("last", func(ctx context.Context, job *handler.Job) (any, error) {
		// The worst order: the offline report is processed before the
		// reply is even sent.
		if err := b.engine.Registry().ReportStatus(ctx, "stopping", "offline"); err != nil {
			return nil, err
		}
		return "done", nil
	})
	b.serveHandler(t, "stopping", 1, mux)
	ex, err := b.engine.RunNow(context.Background(), schedtype.RunRequest{HandlerID: "stopping", Method: "last", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if ex.Status != store.StatusSucceeded {
		t.Fatalf("status %s (%s), want success", ex.Status, ex.Error)
	}
}

// A restarted handler at the same address may answer a job sent over the
// old connection before its new registration arrives; the registration
// replaces the connection, but the reply on the old one must still count.
func TestScheduler_ReRegistrationDuringCallKeepsReply(t *testing.T) {
	b := setup(t, scheduler.Options{})
	var addr string
	mux := handler.NewMux()
	mux.HandleFunc("last", func(ctx context.Context, job *handler.Job) (any, error) {
		// The worst order: the registration is processed before the
		// reply is even sent.
		if _, err := b.engine.Registry().Register(ctx, wire.Registration{HandlerID: "restarted", Address: addr,
			Methods: []string{"last"}, Protocol: 2, Concurrency: 1}); err != nil {
			return nil, err
		}
		return "done", nil
	})
	b.serveHandler(t, "restarted", 1, mux)
	hs, err := b.engine.Handlers(context.Background())
	if err != nil || len(hs) != 1 {
		t.Fatalf("handlers: %v %v", hs, err)
	}
	addr = hs[0].Address
	ex, err := b.engine.RunNow(context.Background(), schedtype.RunRequest{HandlerID: "restarted", Method: "last", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if ex.Status != store.StatusSucceeded {
		t.Fatalf("status %s (%s), want success", ex.Status, ex.Error)
	}
}

// A handler restarted while it runs a job (systemctl restart) fails no
// job: it says "stopping" before it waits for the running one, the job
// that fires meanwhile waits for the next registration, and both succeed.
func TestScheduler_HandlerRestartFailsNoJob(t *testing.T) {
	b := setup(t, scheduler.Options{})
	started, release := make(chan struct{}), make(chan struct{})
	mux := handler.NewMux()
	mux.HandleFunc("slow", func(ctx context.Context, _ *handler.Job) (any, error) {
		close(started)
		select {
		case <-release:
			return "slow done", nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	})
	mux.HandleFunc("fast", func(context.Context, *handler.Job) (any, error) { return "fast done", nil })
	serve := func(endpoint string) (stop func()) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			done <- handler.Serve(ctx, mux, handler.Options{Name: "restarted", Endpoint: endpoint, Scheduler: b.zmq,
				Concurrency: 2, Logger: slog.New(slog.DiscardHandler)})
		}()
		var once sync.Once
		stop = func() {
			once.Do(func() {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("handler at %s: %v", endpoint, err)
				}
			})
		}
		t.Cleanup(stop)
		return stop
	}
	runs := func(method string) chan store.Execution {
		ch := make(chan store.Execution, 1)
		go func() {
			ex, err := b.engine.RunNow(context.Background(), schedtype.RunRequest{HandlerID: "restarted", Method: method, Timeout: 10 * time.Second})
			if err != nil {
				t.Error(err)
			}
			ch <- ex
		}()
		return ch
	}
	status := func(want string) func() bool {
		return func() bool {
			hs, _ := b.engine.Handlers(context.Background())
			return len(hs) == 1 && hs[0].Status == want
		}
	}

	first := wiretest.IPC(t, "first.sock")
	stopFirst := serve(first)
	await(t, "the handler online", status("online"))
	slow := runs("slow")
	<-started
	stopped := make(chan struct{})
	go func() { stopFirst(); close(stopped) }()
	await(t, "the handler to say it is stopping", status(handler.StatusStopping))
	fast := runs("fast")
	close(release)
	<-stopped
	serve(wiretest.IPC(t, "second.sock"))
	for name, ch := range map[string]chan store.Execution{"running at the stop": slow, "fired during the stop": fast} {
		if ex := <-ch; ex.Status != store.StatusSucceeded || ex.Attempt != 1 {
			t.Errorf("job %s: %s at attempt %d (%s), want success at attempt 1", name, ex.Status, ex.Attempt, ex.Error)
		}
	}
}

// A handler restarted over and over, gracefully as systemd does, while
// callers keep running jobs on it: every job succeeds at its first
// attempt and runs once.
func TestScheduler_HandlerChurnRunsEveryJobOnce(t *testing.T) {
	b := setup(t, scheduler.Options{})
	var (
		mu   sync.Mutex
		runs = map[string]int{}
		done atomic.Int64
	)
	mux := handler.NewMux()
	mux.HandleFunc("work", func(ctx context.Context, j *handler.Job) (any, error) {
		mu.Lock()
		runs[j.ExecutionID]++
		mu.Unlock()
		// Some work, so that stops find jobs running.
		work := time.NewTimer(time.Duration(j.ExecutionID[len(j.ExecutionID)-1]%7) * time.Millisecond)
		defer work.Stop()
		select {
		case <-work.C:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		done.Add(1)
		return "ok", nil
	})
	endpoint := wiretest.IPC(t, "churn.sock")
	start := func() (stop func() error) {
		ctx, cancel := context.WithCancel(context.Background())
		served := make(chan error, 1)
		go func() {
			served <- handler.Serve(ctx, mux, handler.Options{Name: "churn", Endpoint: endpoint, Scheduler: b.zmq,
				Concurrency: 4, Logger: slog.New(slog.DiscardHandler)})
		}()
		return func() error { cancel(); return <-served }
	}
	stop := start()
	await(t, "the handler online", func() bool {
		h, ok := b.handler(t, "churn")
		return ok && h.Status == "online"
	})
	churning := make(chan struct{})
	var results sync.Map // execution id → store.Execution
	var callers sync.WaitGroup
	for range 4 {
		callers.Add(1)
		go func() {
			defer callers.Done()
			for {
				select {
				case <-churning:
					return
				default:
				}
				ex, err := b.engine.RunNow(context.Background(), schedtype.RunRequest{HandlerID: "churn", Method: "work", Timeout: 10 * time.Second})
				if err != nil {
					t.Error(err)
					return
				}
				results.Store(ex.ID, ex)
			}
		}()
	}
	const restarts = 8
	for i := range restarts {
		from := done.Load()
		await(t, fmt.Sprintf("instance %d to finish 20 jobs", i), func() bool { return done.Load() >= from+20 })
		if err := stop(); err != nil {
			t.Fatalf("instance %d: %v", i, err)
		}
		stop = start()
	}
	close(churning)
	callers.Wait() // their last jobs run on the last instance
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	n := 0
	results.Range(func(_, v any) bool {
		n++
		ex := v.(store.Execution)
		if ex.Status != store.StatusSucceeded || ex.Attempt != 1 {
			t.Errorf("execution %s: %s at attempt %d (%s), want success at attempt 1", ex.ID, ex.Status, ex.Attempt, ex.Error)
		}
		return true
	})
	mu.Lock()
	defer mu.Unlock()
	for id, k := range runs {
		if k != 1 {
			t.Errorf("execution %s ran %d times", id, k)
		}
	}
	if n < restarts*20 {
		t.Errorf("%d jobs over %d restarts, want at least %d", n, restarts, restarts*20)
	}
	t.Logf("%d jobs over %d graceful restarts of their handler", n, restarts)
}
