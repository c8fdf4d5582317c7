package scheduler_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/handler"
	"github.com/schedulezero/schedulezero/pkg/scheduler"
	"github.com/schedulezero/schedulezero/pkg/scheduler/schedtype"
	"github.com/schedulezero/schedulezero/pkg/store"
	"github.com/schedulezero/schedulezero/pkg/store/storetest"
	"github.com/schedulezero/schedulezero/pkg/wire"
	"github.com/schedulezero/schedulezero/pkg/wire/wiretest"
)

// Ten schedules fire 50 times a second each while the scheduler, its
// handler, or both at once are stopped and started again, gracefully: every
// recorded execution succeeded (or was missed while no scheduler ran), and
// the handler ran no attempt twice and none that is not recorded.
func TestScheduler_GracefulRestartsRunEveryFireOnce(t *testing.T) {
	for _, tc := range []struct {
		name   string
		rounds int
		// restart says what round i restarts: the scheduler, the handler.
		restart func(i int) (scheduler, handler bool)
	}{
		{"scheduler", 6, func(int) (bool, bool) { return true, false }},
		{"scheduler, handler, both", 12, func(i int) (bool, bool) { return i%3 != 1, i%3 != 0 }},
	} {
		t.Run(tc.name, func(t *testing.T) { restartRounds(t, tc.rounds, tc.restart) })
	}
}

func restartRounds(t *testing.T, rounds int, restart func(int) (bool, bool)) {
	db := storetest.New(t)
	ep := wiretest.IPC(t, "sched.sock")
	var (
		mu   sync.Mutex
		runs = map[string]int{} // execution id/attempt → runs
		done atomic.Int64
	)
	mux := handler.NewMux()
	mux.HandleFunc("work", func(_ context.Context, j *handler.Job) (any, error) {
		mu.Lock()
		runs[j.ExecutionID+"/"+strconv.Itoa(j.Attempt)]++
		mu.Unlock()
		done.Add(1)
		return "ok", nil
	})
	start := func() (*scheduler.Scheduler, func()) {
		ctx, cancel := context.WithCancel(context.Background())
		eng, err := scheduler.New(ctx, scheduler.Options{Store: db, MinInterval: 10 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		srv, err := wire.Listen(ctx, ep, eng.Registry(), nil)
		if err != nil {
			t.Fatal(err)
		}
		served := make(chan struct{})
		go func() { defer close(served); _ = srv.Serve(ctx) }()
		if err := eng.Start(ctx); err != nil {
			t.Fatal(err)
		}
		return eng, func() {
			sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer scancel()
			if err := eng.Stop(sctx); err != nil {
				t.Errorf("stop: %v", err)
			}
			cancel()
			<-served
		}
	}
	online := func(eng *scheduler.Scheduler) func() bool {
		return func() bool {
			hs, _ := eng.Handlers(context.Background())
			return len(hs) == 1 && hs[0].Status == "online"
		}
	}

	hep := wiretest.IPC(t, "w.sock")
	startHandler := func() (stop func()) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			done <- handler.Serve(ctx, mux, handler.Options{Name: "w", Endpoint: hep, Scheduler: ep,
				Concurrency: 4, PingInterval: 20 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
		}()
		return func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("handler: %v", err)
			}
		}
	}

	eng, stop := start()
	stopHandler := startHandler()
	defer func() { stopHandler() }()
	await(t, "the handler online", online(eng))
	const schedules = 10
	for i := range schedules {
		if _, err := eng.AddSchedule(context.Background(), schedtype.ScheduleRequest{ID: fmt.Sprint("s", i), HandlerID: "w", Method: "work",
			Trigger: json.RawMessage(`{"type":"interval","seconds":0.02}`)}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range rounds {
		from := done.Load()
		await(t, fmt.Sprintf("100 runs before round %d", i), func() bool { return done.Load() >= from+100 })
		sched, hand := restart(i)
		handlerBack := make(chan struct{})
		go func() { // at the same time as the scheduler's
			defer close(handlerBack)
			if hand {
				stopHandler()
				stopHandler = startHandler()
			}
		}()
		if sched {
			stop()
			eng, stop = start()
		}
		<-handlerBack
	}
	from := done.Load()
	await(t, "100 runs after the last restart", func() bool { return done.Load() >= from+100 })
	for i := range schedules {
		if _, err := eng.PauseSchedule(context.Background(), fmt.Sprint("s", i)); err != nil {
			t.Fatal(err)
		}
	}
	unfinished := func() int {
		n := 0
		for _, st := range []store.Status{store.StatusPending, store.StatusRunning} {
			recs, err := db.ListExecutions(context.Background(), store.ExecutionFilter{Status: st})
			if err != nil {
				t.Fatal(err)
			}
			n += len(recs)
		}
		return n
	}
	await(t, "every fire to end", func() bool { return unfinished() == 0 })
	stop()

	recs, err := db.ListExecutions(context.Background(), store.ExecutionFilter{})
	if err != nil {
		t.Fatal(err)
	}
	byStatus := map[store.Status]int{}
	mu.Lock()
	defer mu.Unlock()
	for _, r := range recs {
		byStatus[r.Status]++
		switch r.Status {
		case store.StatusSucceeded:
			if runs[r.ID+"/"+strconv.Itoa(r.Attempt)] != 1 {
				t.Errorf("execution %s attempt %d recorded success, ran %d times", r.ID, r.Attempt, runs[r.ID+"/"+strconv.Itoa(r.Attempt)])
			}
		case store.StatusMissed: // fires due while no scheduler ran, by the misfire policy
		default:
			t.Errorf("execution %s attempt %d: %s (%s); the handler ran it %d times", r.ID, r.Attempt, r.Status, r.Error, runs[r.ID+"/"+strconv.Itoa(r.Attempt)])
		}
	}
	for key, n := range runs {
		if n != 1 {
			t.Errorf("attempt %s ran %d times", key, n)
		}
	}
	if byStatus[store.StatusSucceeded] != len(runs) {
		t.Errorf("%d successes recorded, %d attempts run", byStatus[store.StatusSucceeded], len(runs))
	}
	t.Logf("%d rounds: %v", rounds, byStatus)
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
