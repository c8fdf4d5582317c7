package scheduler_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/schedulezero/schedulezero/pkg/field"
	"github.com/schedulezero/schedulezero/pkg/handler"
	"github.com/schedulezero/schedulezero/pkg/scheduler"
	"github.com/schedulezero/schedulezero/pkg/scheduler/schedtype"
	"github.com/schedulezero/schedulezero/pkg/store"
	"github.com/schedulezero/schedulezero/pkg/store/storetest"
	"github.com/schedulezero/schedulezero/pkg/wire"
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

// An attempt found running at start-up (the scheduler crashed mid-call) is
// marked interrupted, and a new attempt runs.
func TestScheduler_RecoversInterruptedAttempt(t *testing.T) {
	db := storetest.New(t)
	ctx := context.Background()
	now := time.Now()
	sched := store.Schedule{ID: "s1", HandlerID: "h1", Method: "work",
		Trigger:   json.RawMessage(`{"type":"date","run_date":"` + now.Add(time.Hour).UTC().Format(time.RFC3339) + `"}`),
		NextFire:  now.Add(time.Hour),
		CreatedAt: now, UpdatedAt: now}
	crashed := store.Execution{ID: "01JAAAAAAAAAAAAAAAAAAAAAAA", Attempt: 1, MaxAttempts: 3, ScheduleID: "s1",
		HandlerID: "h1", Method: "work", Status: store.StatusRunning, ScheduledAt: now, StartedAt: now}
	if err := db.Commit(ctx, store.Writes{Schedules: []store.Schedule{sched}, Executions: []store.Execution{crashed}}); err != nil {
		t.Fatal(err)
	}
	b := setup(t, scheduler.Options{Store: db})
	var calls atomic.Int64
	b.serveHandler(t, "h1", 1, okMux(&calls))
	await(t, "the retry to succeed", func() bool {
		return countStatus(b.executions(t, store.ExecutionFilter{ExecutionID: crashed.ID}), store.StatusSucceeded) == 1
	})
	recs := b.executions(t, store.ExecutionFilter{ExecutionID: crashed.ID})
	got := map[int]store.Status{}
	for _, r := range recs {
		got[r.Attempt] = r.Status
	}
	if got[1] != store.StatusInterrupted || got[2] != store.StatusSucceeded {
		t.Fatalf("attempts: %v", got)
	}
	if u, _ := db.Unfinished(ctx); len(u) != 0 {
		t.Fatalf("still unfinished: %+v", u)
	}
}

func TestScheduler_AddScheduleRejectsBadInput(t *testing.T) {
	b := setup(t, scheduler.Options{})
	var calls atomic.Int64
	b.serveHandler(t, "h1", 1, okMux(&calls))
	good := schedtype.ScheduleRequest{HandlerID: "h1", Method: "work", Trigger: json.RawMessage(`{"type":"interval","seconds":5}`)}
	tests := []struct {
		name  string
		edit  func(*schedtype.ScheduleRequest)
		field string
		is    error
	}{
		{"no handler", func(r *schedtype.ScheduleRequest) { r.HandlerID = "" }, "handler_id", nil},
		{"unknown handler", func(r *schedtype.ScheduleRequest) { r.HandlerID = "nope" }, "", store.ErrNotFound},
		{"no method", func(r *schedtype.ScheduleRequest) { r.Method = "" }, "job_method", nil},
		{"method the handler lacks", func(r *schedtype.ScheduleRequest) { r.Method = "fly" }, "job_method", nil},
		{"params not an object", func(r *schedtype.ScheduleRequest) { r.Params = json.RawMessage(`[1]`) }, "job_params", nil},
		{"no trigger", func(r *schedtype.ScheduleRequest) { r.Trigger = nil }, "trigger", nil},
		{"unknown trigger type", func(r *schedtype.ScheduleRequest) { r.Trigger = json.RawMessage(`{"type":"sometimes"}`) }, "trigger.type", nil},
		{"zero interval", func(r *schedtype.ScheduleRequest) { r.Trigger = json.RawMessage(`{"type":"interval"}`) }, "trigger", nil},
		{"bad cron", func(r *schedtype.ScheduleRequest) { r.Trigger = json.RawMessage(`{"type":"cron","expr":"61 * * * *"}`) }, "trigger.expr", nil},
		{"bad zone", func(r *schedtype.ScheduleRequest) { r.Timezone = "Mars/Olympus" }, "timezone", nil},
		{"negative attempts", func(r *schedtype.ScheduleRequest) { r.MaxAttempts = -1 }, "max_attempts", nil},
		{"negative timeout", func(r *schedtype.ScheduleRequest) { r.Timeout = -time.Second }, "timeout", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := good
			tt.edit(&req)
			_, err := b.engine.AddSchedule(context.Background(), req)
			if err == nil {
				t.Fatal("accepted")
			}
			if tt.is != nil {
				if !errors.Is(err, tt.is) {
					t.Fatalf("err = %v, want %v", err, tt.is)
				}
				return
			}
			var fe *field.Error
			if !errors.As(err, &fe) {
				t.Fatalf("err = %v (%T), want *field.Error", err, err)
			}
			if !strings.HasPrefix(fe.Field, tt.field) {
				t.Fatalf("field = %q, want %q (err: %v)", fe.Field, tt.field, err)
			}
		})
	}
	if got, _ := b.engine.ListSchedules(context.Background()); len(got) != 0 {
		t.Fatalf("rejected input left %d schedules", len(got))
	}
}

func TestScheduler_DuplicateIDConflictsUnlessReplace(t *testing.T) {
	b := setup(t, scheduler.Options{})
	var calls atomic.Int64
	b.serveHandler(t, "h1", 1, okMux(&calls))
	ctx := context.Background()
	req := schedtype.ScheduleRequest{ID: "dup", HandlerID: "h1", Method: "work", Trigger: json.RawMessage(`{"type":"interval","hours":1}`)}
	if _, err := b.engine.AddSchedule(ctx, req); err != nil {
		t.Fatal(err)
	}
	if _, err := b.engine.AddSchedule(ctx, req); !errors.Is(err, store.ErrExists) {
		t.Fatalf("duplicate: err = %v, want ErrExists", err)
	}
	req.Replace = true
	req.Trigger = json.RawMessage(`{"type":"interval","hours":2}`)
	if _, err := b.engine.AddSchedule(ctx, req); err != nil {
		t.Fatalf("replace: %v", err)
	}
	if err := b.engine.DeleteSchedule(ctx, "dup"); err != nil {
		t.Fatal(err)
	}
	if err := b.engine.DeleteSchedule(ctx, "dup"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second delete: err = %v, want ErrNotFound", err)
	}
	if _, err := b.db.GetSchedule(ctx, "dup"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted schedule still stored: %v", err)
	}
}

func TestScheduler_PauseStopsFiringResumeRearms(t *testing.T) {
	b := setup(t, scheduler.Options{})
	var calls atomic.Int64
	b.serveHandler(t, "h1", 1, okMux(&calls))
	ctx := context.Background()
	if _, err := b.engine.AddSchedule(ctx, schedtype.ScheduleRequest{ID: "p", HandlerID: "h1", Method: "work",
		Trigger: json.RawMessage(`{"type":"interval","hours":1}`)}); err != nil {
		t.Fatal(err)
	}
	// The handler counts the call before its reply is back: wait for the
	// record, or the manual run below meets a run still in flight and is
	// skipped by the overlap policy.
	await(t, "the first fire recorded", func() bool {
		recs := b.executions(t, store.ExecutionFilter{ScheduleID: "p", Status: store.StatusSucceeded})
		return calls.Load() == 1 && len(recs) == 1
	})
	s, err := b.engine.PauseSchedule(ctx, "p")
	if err != nil || !s.Paused {
		t.Fatalf("pause: %+v %v", s, err)
	}
	stored, _ := b.db.GetSchedule(ctx, "p")
	if !stored.Paused {
		t.Fatal("pause not stored")
	}
	s, err = b.engine.ResumeSchedule(ctx, "p")
	if err != nil || s.Paused || s.NextFire.IsZero() {
		t.Fatalf("resume: %+v %v", s, err)
	}
	run, err := b.engine.TriggerSchedule(ctx, "p", false)
	if err != nil || run.ID == "" || run.Status == store.StatusMissed {
		t.Fatalf("trigger: %+v %v", run, err)
	}
	await(t, "the manual run", func() bool { return calls.Load() == 2 })
}

func TestScheduler_HealthAndSummary(t *testing.T) {
	b := setup(t, scheduler.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := b.engine.Health(ctx); err != nil {
		t.Fatalf("healthy engine: %v", err)
	}
	if s := b.engine.Summary(); s == "" {
		t.Fatal("empty summary")
	}
	b.engine.Stall()
	ctx2, cancel2 := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel2()
	if err := b.engine.Health(ctx2); err == nil {
		t.Fatal("a stalled engine reports healthy")
	}
}

// Stop does not spend its budget on an attempt still waiting for its
// handler: the attempt stays pending and runs after the restart.
func TestScheduler_StopLeavesWaitingAttemptPending(t *testing.T) {
	db := storetest.New(t)
	b := setup(t, scheduler.Options{Store: db})
	var calls atomic.Int64
	b.serveHandler(t, "absent", 1, okMux(&calls))
	if err := b.engine.Registry().ReportStatus(context.Background(), "absent", "offline"); err != nil {
		t.Fatal(err)
	}
	_, err := b.engine.AddSchedule(context.Background(), schedtype.ScheduleRequest{
		ID: "waits", HandlerID: "absent", Method: "work", Timeout: time.Hour,
		Trigger: json.RawMessage(`{"type":"date","run_date":"` + time.Now().UTC().Format(time.RFC3339) + `"}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	await(t, "a pending attempt", func() bool {
		return countStatus(b.executions(t, store.ExecutionFilter{ScheduleID: "waits"}), store.StatusPending) == 1
	})
	stopped := make(chan struct{})
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = b.engine.Stop(ctx)
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("Stop waited for an attempt that was never sent")
	}
	u, err := db.Unfinished(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(u) != 1 || u[0].Status != store.StatusPending || u[0].Attempt != 1 {
		t.Fatalf("unfinished after stop: %+v; want the one attempt, pending", u)
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
