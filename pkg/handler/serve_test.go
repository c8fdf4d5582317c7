package handler_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"
	"github.com/schedulezero/schedulezero/pkg/handler"
	"github.com/schedulezero/schedulezero/pkg/wire"
	"github.com/schedulezero/schedulezero/pkg/wire/wiretest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// startHandler runs Serve until the test ends and returns once the handler
// is registered.
func startHandler(t *testing.T, mux *handler.Mux, opts handler.Options) (stop func()) {
	t.Helper()
	ready := make(chan struct{})
	opts.ReadyFunc = func() { close(ready) }
	if opts.Endpoint == "" {
		opts.Endpoint = wiretest.IPC(t, "h.sock")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- handler.Serve(ctx, mux, opts) }()
	select {
	case <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("serve: %v", err)
	case <-time.After(10 * time.Second):
		cancel()
		<-done
		t.Fatal("handler never registered")
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("serve: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

type fixture struct {
	reg     *wiretest.Registry
	srv     *wire.Server
	addr    string
	token   string // the job token of the handler's registration
	started chan string
	release chan struct{}
	active  atomic.Int64
	maxSeen atomic.Int64
	stop    func()
}

// handleCommon registers the methods both the socket and the Local tests
// call: echo, scalar, fail and perm.
func handleCommon(mux *handler.Mux) {
	mux.HandleFunc("echo", func(_ context.Context, j *handler.Job) (any, error) {
		return map[string]any{"params": j.Params, "execution_id": j.ExecutionID, "schedule_id": j.ScheduleID, "attempt": j.Attempt, "handler": j.Handler}, nil
	})
	mux.HandleFunc("scalar", func(context.Context, *handler.Job) (any, error) { return 42, nil })
	mux.HandleFunc("fail", func(context.Context, *handler.Job) (any, error) { return nil, errors.New("boom") })
	mux.HandleFunc("perm", func(context.Context, *handler.Job) (any, error) {
		return nil, handler.Permanent(errors.New("bad input"))
	})
}

func newFixture(t *testing.T, concurrency int) *fixture {
	f := &fixture{reg: wiretest.NewRegistry(), started: make(chan string, 100), release: make(chan struct{})}
	f.srv = wiretest.Serve(t, f.reg)
	mux := handler.NewMux()
	handleCommon(mux)
	mux.HandleFunc("panic", func(context.Context, *handler.Job) (any, error) { panic("oops") })
	mux.HandleFunc("wait", func(ctx context.Context, j *handler.Job) (any, error) {
		n := f.active.Add(1)
		defer f.active.Add(-1)
		for {
			m := f.maxSeen.Load()
			if n <= m || f.maxSeen.CompareAndSwap(m, n) {
				break
			}
		}
		f.started <- j.ExecutionID
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-f.release:
			return "released", nil
		}
	})
	f.stop = startHandler(t, mux, handler.Options{Name: "tester", Scheduler: f.srv.Addr(), Concurrency: concurrency})
	h, _, ok := f.reg.Handler("tester")
	if !ok {
		t.Fatal("not registered")
	}
	f.addr, f.token = h.Address, h.JobToken
	if h.Protocol != wire.ProtocolJobToken || h.Concurrency != concurrency || len(h.JobToken) != 32 {
		t.Errorf("registration = %+v", h)
	}
	return f
}

func body(t *testing.T, r wire.Reply) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestServe_Replies(t *testing.T) {
	f := newFixture(t, 4)
	for _, proto := range []int{0, 2} {
		c := wire.Dial(f.addr, proto, nil, wire.WithJobToken(f.token))
		defer c.Close()
		for _, tc := range []struct {
			name string
			req  wire.Request
			want map[string]any
		}{
			{"ping", wire.Request{Method: "ping", Params: json.RawMessage(`{}`)},
				map[string]any{"success": true, "message": "pong", "handler_id": "tester"}},
			{"object result merged", wire.Request{Method: "echo", Params: json.RawMessage(`{"a":1}`), ExecutionID: "e1", ScheduleID: "s1", Attempt: 2},
				map[string]any{"success": true, "params": map[string]any{"a": 1.0}, "execution_id": "e1", "schedule_id": "s1", "attempt": 2.0, "handler": "tester"}},
			{"scalar result", wire.Request{Method: "scalar"}, map[string]any{"success": true, "result": 42.0}},
			{"error", wire.Request{Method: "fail"}, map[string]any{"success": false, "error": "boom"}},
			{"permanent", wire.Request{Method: "perm"}, map[string]any{"success": false, "error": "bad input", "retry": false}},
			{"panic", wire.Request{Method: "panic"}, map[string]any{"success": false, "error": "method panic panicked: oops"}},
			{"unknown", wire.Request{Method: "nope"}, map[string]any{"success": false, "error": "Unknown method: nope", "retry": false}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r, err := c.Call(ctxT(t, 5*time.Second), tc.req)
				if err != nil {
					t.Fatal(err)
				}
				got := body(t, r)
				delete(got, "id")
				gb, _ := json.Marshal(got)
				wb, _ := json.Marshal(tc.want)
				if string(gb) != string(wb) {
					t.Errorf("protocol %d reply\n got %s\nwant %s", proto, gb, wb)
				}
			})
		}
	}
}

func TestServe_DeadlineAndCancel(t *testing.T) {
	f := newFixture(t, 4)
	c := wire.Dial(f.addr, 2, nil, wire.WithJobToken(f.token))
	defer c.Close()

	start := time.Now()
	r, err := c.Call(ctxT(t, 5*time.Second), wire.Request{Method: "wait", ExecutionID: "d1", Attempt: 1,
		DeadlineMS: time.Now().Add(150 * time.Millisecond).UnixMilli()})
	if err != nil || r.Success || !strings.Contains(r.Error, "deadline") {
		t.Errorf("deadline job: %s %v", r.Raw, err)
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Errorf("deadline job took %v", el)
	}
	<-f.started

	res := make(chan wire.Reply, 1)
	go func() {
		r, _ := c.Call(ctxT(t, 5*time.Second), wire.Request{Method: "wait", ExecutionID: "c1", Attempt: 3})
		res <- r
	}()
	if id := <-f.started; id != "c1" {
		t.Fatalf("started %q", id)
	}
	if err := c.Cancel(ctxT(t, 5*time.Second), "c1", 3); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-res:
		if r.Success || !strings.Contains(r.Error, "canceled") {
			t.Errorf("canceled job: %s", r.Raw)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("cancel did not end the job")
	}
}

func TestServe_Concurrency(t *testing.T) {
	f := newFixture(t, 3)
	c := wire.Dial(f.addr, 2, nil, wire.WithJobToken(f.token))
	defer c.Close()
	var wg sync.WaitGroup
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := c.Call(ctxT(t, 10*time.Second), wire.Request{Method: "wait"})
			if err != nil || !r.Success {
				t.Errorf("job: %s %v", r.Raw, err)
			}
		}()
	}
	for range 3 {
		<-f.started
	}
	if n := f.active.Load(); n != 3 {
		t.Errorf("active jobs = %d, want 3", n)
	}
	close(f.release)
	wg.Wait()
	if m := f.maxSeen.Load(); m != 3 {
		t.Errorf("max concurrent jobs = %d, want 3", m)
	}
}

func TestServe_ReregistersAfterSchedulerRestart(t *testing.T) {
	ep := wiretest.IPC(t, "sched.sock")
	serve := func(reg wire.Registry) func() {
		ctx, cancel := context.WithCancel(context.Background())
		srv, err := wire.Listen(ctx, ep, reg, nil)
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { srv.Serve(ctx); close(done) }()
		return func() { cancel(); <-done }
	}
	stop1 := serve(wiretest.NewRegistry())
	mux := handler.NewMux()
	mux.HandleFunc("x", func(context.Context, *handler.Job) (any, error) { return nil, nil })
	startHandler(t, mux, handler.Options{Name: "phoenix", Scheduler: ep, PingInterval: 50 * time.Millisecond})
	stop1()
	reg2 := wiretest.NewRegistry()
	stop2 := serve(reg2)
	defer stop2()
	err := reg2.Await(ctxT(t, 10*time.Second), func(r *wiretest.Registry) bool {
		_, st, ok := r.Handler("phoenix")
		return ok && st == "registered"
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestServe_NeedsName(t *testing.T) {
	if err := handler.Serve(context.Background(), handler.NewMux(), handler.Options{}); err == nil {
		t.Error("Serve without a name succeeded")
	}
}

// A protocol 3 peer sends batches: every request gets its own reply, and
// replies come back in batch frames; a bad request in a batch fails alone.
func TestServe_Batches(t *testing.T) {
	f := newFixture(t, 64)
	defer f.stop()

	c := wire.Dial(f.addr, wire.ProtocolBatched, nil, wire.WithJobToken(f.token))
	defer c.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := c.Call(ctx, wire.Request{Method: "echo", ExecutionID: "first"}); err != nil {
		t.Fatal(err)
	}
	const n = 500
	type outcome struct {
		r   wire.Reply
		err error
	}
	got := make(chan outcome, n)
	for i := range n {
		if _, ok := c.Go(wire.Request{Method: "echo", ExecutionID: fmt.Sprint("e", i)}, 10*time.Second,
			func(r wire.Reply, err error) { got <- outcome{r, err} }); !ok {
			t.Fatal("Go refused")
		}
	}
	seen := map[string]bool{}
	for range n {
		o := <-got
		if o.err != nil || !o.r.Success {
			t.Fatalf("reply %+v, %v", o.r, o.err)
		}
		var b struct {
			ExecutionID string `json:"execution_id"`
		}
		if err := json.Unmarshal(o.r.Raw, &b); err != nil || seen[b.ExecutionID] {
			t.Fatalf("reply %s: bad or repeated (%v)", o.r.Raw, err)
		}
		seen[b.ExecutionID] = true
	}

	// One frame with a good and a bad request, straight on a socket.
	sock := zmq4.NewDealer(context.Background())
	defer sock.Close()
	if err := sock.Dial(f.addr); err != nil {
		t.Fatal(err)
	}
	if err := sock.Send(zmq4.NewMsgString(`[{"method":"echo","id":"a","v":3,"job_token":"` + f.token + `"},{"method":"","id":"b","v":3}]`)); err != nil {
		t.Fatal(err)
	}
	replies := map[string]wire.Reply{}
	for len(replies) < 2 {
		msg, err := sock.Recv()
		if err != nil {
			t.Fatal(err)
		}
		elems, err := wire.SplitBatch(msg.Frames[len(msg.Frames)-1])
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range elems {
			r, err := wire.DecodeReply(e)
			if err != nil {
				t.Fatal(err)
			}
			replies[r.ID] = r
		}
	}
	if !replies["a"].Success || replies["b"].Success || !strings.Contains(replies["b"].Error, "method") {
		t.Fatalf("replies to a mixed batch: %+v", replies)
	}
}
