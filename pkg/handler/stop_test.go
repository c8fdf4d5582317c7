package handler_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"
	"github.com/schedulezero/schedulezero/pkg/handler"
	"github.com/schedulezero/schedulezero/pkg/wire"
	"github.com/schedulezero/schedulezero/pkg/wire/wiretest"
)

func TestServe_ReportsOfflineOnStop(t *testing.T) {
	f := newFixture(t, 2)
	f.stop()
	if _, st, _ := f.reg.Handler("tester"); st != "offline" {
		t.Errorf("status after stop = %q, want offline", st)
	}
}

// On stop the handler says "stopping" before it waits for its running
// jobs, and a job that still reaches it then is answered "not_run": the
// scheduler may send it again to the handler's next registration.
func TestServe_StoppingRefusesNewJobsAsNotRun(t *testing.T) {
	f := newFixture(t, 2)
	c := wire.Dial(f.addr, 2, nil, wire.WithJobToken(f.token))
	defer c.Close()
	running := make(chan wire.Reply, 1)
	go func() {
		r, err := c.Call(ctxT(t, 10*time.Second), wire.Request{Method: "wait"})
		if err != nil {
			t.Error(err)
		}
		running <- r
	}()
	<-f.started
	stopped := make(chan struct{})
	go func() { f.stop(); close(stopped) }()
	err := f.reg.Await(ctxT(t, 10*time.Second), func(r *wiretest.Registry) bool {
		_, st, _ := r.Handler("tester")
		return st == handler.StatusStopping
	})
	if err != nil {
		t.Fatal("no \"stopping\" report while a job runs:", err)
	}
	r, err := c.Call(ctxT(t, 5*time.Second), wire.Request{Method: "echo"})
	if err != nil {
		t.Fatal(err)
	}
	if got := body(t, r); got["success"] != false || got["not_run"] != true {
		t.Fatalf("job sent to a stopping handler: %v, want success false and not_run true", got)
	}
	close(f.release)
	<-stopped
	if got := body(t, <-running); got["success"] != true || got["result"] != "released" {
		t.Errorf("the job running at the stop: %v, want released", got)
	}
	if _, st, _ := f.reg.Handler("tester"); st != handler.StatusOffline {
		t.Errorf("status after stop = %q, want offline", st)
	}
}

// The last frame a stopping handler sends a pipelining peer is
// wire.Closing, after its replies: a request of that peer still without a
// reply was not read.
func TestServe_SaysClosingToPipeliningPeers(t *testing.T) {
	f := newFixture(t, 2)
	peer := zmq4.NewDealer(context.Background(), zmq4.WithTimeout(5*time.Second))
	defer peer.Close()
	if err := peer.Dial(f.addr); err != nil {
		t.Fatal(err)
	}
	if err := peer.Send(zmq4.NewMsgString(`{"method":"echo","id":"1","v":2,"job_token":"` + f.token + `"}`)); err != nil {
		t.Fatal(err)
	}
	recv := func() wire.Reply {
		t.Helper()
		type received struct {
			m   zmq4.Msg
			err error
		}
		got := make(chan received, 1)
		go func() {
			m, err := peer.Recv()
			got <- received{m, err}
		}()
		select {
		case g := <-got:
			if g.err != nil || len(g.m.Frames) == 0 {
				t.Fatalf("no frame from the handler: %v", g.err)
			}
			r, err := wire.DecodeReply(g.m.Frames[len(g.m.Frames)-1])
			if err != nil {
				t.Fatal(err)
			}
			return r
		case <-time.After(10 * time.Second):
			t.Fatal("no frame from the handler")
			return wire.Reply{}
		}
	}
	if r := recv(); !r.Success || r.ID != "1" {
		t.Fatalf("reply %s, want success for id 1", r.Raw)
	}
	f.stop()
	if r := recv(); !wire.IsClosing(r) {
		t.Fatalf("after the stop: %s, want wire.Closing", r.Raw)
	}
}

func TestServer_HealthAndStatus(t *testing.T) {
	sched := wiretest.IPC(t, "nobody.sock") // no scheduler listens here
	mux := handler.NewMux()
	mux.HandleFunc("x", func(context.Context, *handler.Job) (any, error) { return nil, nil })
	srv, err := handler.NewServer(mux, handler.Options{Name: "lonely", Endpoint: wiretest.IPC(t, "h.sock"),
		Scheduler: sched, PingInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Health(context.Background()); !errors.Is(err, handler.ErrUnhealthy) {
		t.Errorf("Health before Serve = %v, want ErrUnhealthy", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	// An absent scheduler is not the handler's fault: across many failed
	// registrations (each bounded by 50ms) the handler stays healthy.
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for range 50 {
		<-tick.C
		if err := srv.Health(context.Background()); err != nil {
			t.Fatalf("Health while the scheduler is away: %v", err)
		}
	}
	if got, want := srv.Status(), "registering with "+sched+"; 0 jobs done, 0 failed, 0 running"; got != want {
		t.Errorf("Status() = %q, want %q", got, want)
	}
	if err := srv.Serve(ctx); err == nil {
		t.Error("a second Serve succeeded")
	}
}

// refusingRegistry refuses every secret, as a scheduler does whose copy of
// the handler's secret differs.
type refusingRegistry struct{ *wiretest.Registry }

func (refusingRegistry) Authenticate(string, string) error {
	return errors.New("params.secret: does not match")
}

// A refused registration ends Serve with the scheduler's reason: retrying
// cannot fix a wrong secret, and under systemd the unit then fails with the
// reason in its journal instead of never becoming ready.
func TestServe_RefusedRegistrationEndsServe(t *testing.T) {
	srv := wiretest.Serve(t, refusingRegistry{wiretest.NewRegistry()})
	mux := handler.NewMux()
	mux.HandleFunc("x", func(context.Context, *handler.Job) (any, error) { return nil, nil })
	ready := false
	done := make(chan error, 1)
	go func() {
		done <- handler.Serve(context.Background(), mux, handler.Options{Name: "impostor", Endpoint: wiretest.IPC(t, "h.sock"),
			Scheduler: srv.Addr(), Secret: "wrong-secret-0123456789", ReadyFunc: func() { ready = true }})
	}()
	select {
	case err := <-done:
		if !errors.Is(err, wire.ErrRefused) || !strings.Contains(err.Error(), "does not match") {
			t.Errorf("Serve = %v, want ErrRefused with the scheduler's reason", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve still runs after the refusal")
	}
	if ready {
		t.Error("ReadyFunc was called for a refused handler")
	}
}
