package scheduler_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"

	"github.com/schedulezero/schedulezero/pkg/handler"
	"github.com/schedulezero/schedulezero/pkg/scheduler"
	"github.com/schedulezero/schedulezero/pkg/scheduler/schedtype"
	"github.com/schedulezero/schedulezero/pkg/store"
	"github.com/schedulezero/schedulezero/pkg/store/storetest"
	"github.com/schedulezero/schedulezero/pkg/wire"
	"github.com/schedulezero/schedulezero/pkg/wire/wiretest"
)

// countingMux has one method, "work", that counts its calls.
func countingMux(calls *atomic.Int64) *handler.Mux {
	mux := handler.NewMux()
	mux.HandleFunc("work", func(context.Context, *handler.Job) (any, error) {
		calls.Add(1)
		return "done", nil
	})
	return mux
}

// A process that connects to a Go handler's job socket and sends it a job
// with a forged execution id is refused, and the method does not run; the
// jobs of the scheduler the handler registered with still run.
func TestScheduler_JobTokenGuardsTheJobChannel(t *testing.T) {
	b := setup(t, scheduler.Options{})
	var calls atomic.Int64
	b.serveHandler(t, "guarded", 2, countingMux(&calls))
	hs, _ := b.engine.Handlers(context.Background())
	if len(hs) != 1 || hs[0].Protocol != wire.ProtocolJobToken {
		t.Fatalf("handlers %+v: want one at protocol 4", hs)
	}

	forger := zmq4.NewDealer(context.Background(), zmq4.WithTimeout(5*time.Second))
	defer forger.Close()
	if err := forger.Dial(hs[0].Address); err != nil {
		t.Fatal(err)
	}
	if err := forger.Send(zmq4.NewMsgString(`{"method":"work","id":"x","execution_id":"01FORGED","attempt":1,"v":3}`)); err != nil {
		t.Fatal(err)
	}
	got := make(chan zmq4.Msg, 1)
	go func() { m, _ := forger.Recv(); got <- m }()
	var reply struct {
		Success bool   `json:"success"`
		Error   string `json:"error"`
	}
	select {
	case m := <-got:
		if len(m.Frames) == 0 || json.Unmarshal(m.Frames[len(m.Frames)-1], &reply) != nil || reply.Success {
			t.Fatalf("forged job: reply %q, want a refusal", m.Frames)
		}
	case <-time.After(5 * time.Second):
		forger.Close()
		<-got
		t.Fatal("no reply to the forged job")
	}
	if n := calls.Load(); n != 0 {
		t.Fatalf("the forged job ran (%d calls)", n)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ex, err := b.engine.RunNow(ctx, schedtype.RunRequest{HandlerID: "guarded", Method: "work"})
	if err != nil || ex.Status != store.StatusSucceeded {
		t.Fatalf("the scheduler's job: %+v %v, want succeeded", ex, err)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("the method ran %d times, want 1 (the scheduler's job)", n)
	}
}

// Job tokens are not stored, so a scheduler restarted from its store has
// none for the handler it restores online. Its first job is refused unrun;
// the refusal makes the handler register again at once (not after its
// ping interval, an hour here), and the job runs, once.
func TestScheduler_RestartedSchedulerGetsTheTokenAgain(t *testing.T) {
	db := storetest.New(t)
	ep := wiretest.IPC(t, "sched.sock")
	start := func() (*scheduler.Scheduler, func()) {
		ctx, cancel := context.WithCancel(context.Background())
		eng, err := scheduler.New(ctx, scheduler.Options{Store: db})
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
	eng, stop := start()
	var calls atomic.Int64
	hctx, hcancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- handler.Serve(hctx, countingMux(&calls), handler.Options{Name: "w", Endpoint: wiretest.IPC(t, "w.sock"),
			Scheduler: ep, PingInterval: time.Hour, Logger: slog.New(slog.DiscardHandler)})
	}()
	defer func() {
		hcancel()
		if err := <-done; err != nil {
			t.Errorf("handler: %v", err)
		}
	}()
	await(t, "the handler online", func() bool {
		hs, _ := eng.Handlers(context.Background())
		return len(hs) == 1 && hs[0].Status == "online"
	})
	stop()
	eng, stop = start()
	defer stop()
	if hs, _ := eng.Handlers(context.Background()); len(hs) != 1 || hs[0].Status != "online" {
		t.Fatalf("restored handlers %+v, want w online", hs)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ex, err := eng.RunNow(ctx, schedtype.RunRequest{HandlerID: "w", Method: "work", Timeout: 10 * time.Second})
	if err != nil || ex.Status != store.StatusSucceeded || ex.Attempt != 1 {
		t.Fatalf("the first job after the restart: %+v %v, want succeeded in attempt 1", ex, err)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("the method ran %d times, want 1", n)
	}
}
