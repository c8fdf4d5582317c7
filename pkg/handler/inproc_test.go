package handler_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/handler"
	"github.com/schedulezero/schedulezero/pkg/wire"
	"github.com/schedulezero/schedulezero/pkg/wire/wiretest"
)

// localMux is the mux of the Local tests; wait jobs report their start on
// started and end on release or their context.
func localMux(started chan<- string, release <-chan struct{}) *handler.Mux {
	mux := handler.NewMux()
	handleCommon(mux)
	mux.HandleFunc("slow", func(context.Context, *handler.Job) (any, error) {
		return nil, handler.Timeout(errors.New("took too long"))
	})
	mux.HandleFunc("panic", func(context.Context, *handler.Job) (any, error) { panic("oops") })
	mux.HandleFunc("wait", func(ctx context.Context, j *handler.Job) (any, error) {
		started <- j.ExecutionID
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-release:
			return "released", nil
		}
	})
	return mux
}

func newLocal(t *testing.T, mux *handler.Mux, concurrency int) (*handler.Local, *wiretest.Registry) {
	t.Helper()
	l, err := handler.NewLocal(mux, handler.Options{Name: "tester", Concurrency: concurrency})
	if err != nil {
		t.Fatal(err)
	}
	reg := wiretest.NewRegistry()
	if err := l.Start(ctxT(t, 5*time.Second), reg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Stop(context.Background()) })
	return l, reg
}

// The in-process handler answers every request as the socket server does:
// the same mux, served both ways, gives the same replies.
func TestLocal_RepliesAsServe(t *testing.T) {
	started, release := make(chan string, 10), make(chan struct{})
	mux := localMux(started, release)
	l, reg := newLocal(t, mux, 4)
	h, status, _ := reg.Handler("tester")
	if h.Address != "inproc://tester" || h.Protocol != wire.ProtocolLatest || h.Concurrency != 4 || status != "registered" ||
		strings.Join(h.Methods, ",") != strings.Join(mux.Methods(), ",") {
		t.Errorf("registration = %+v (%s)", h, status)
	}

	sreg := wiretest.NewRegistry()
	srv := wiretest.Serve(t, sreg)
	startHandler(t, mux, handler.Options{Name: "tester", Scheduler: srv.Addr(), Concurrency: 4})
	sh, _, _ := sreg.Handler("tester")
	c := wire.Dial(sh.Address, wire.ProtocolLatest, nil, wire.WithJobToken(sh.JobToken))
	defer c.Close()

	for _, tc := range []struct {
		name string
		req  wire.Request
		want string // a key and value the reply must have
	}{
		{"ping", wire.Request{Method: "ping"}, `"message":"pong"`},
		{"object result merged", wire.Request{Method: "echo", Params: json.RawMessage(`{"a":1}`), ExecutionID: "e1", ScheduleID: "s1", Attempt: 2}, `"schedule_id":"s1"`},
		{"scalar result", wire.Request{Method: "scalar"}, `"result":42`},
		{"error", wire.Request{Method: "fail"}, `"error":"boom"`},
		{"permanent", wire.Request{Method: "perm"}, `"retry":false`},
		{"own timeout", wire.Request{Method: "slow"}, `"timeout":true`},
		{"panic", wire.Request{Method: "panic"}, `"error":"method panic panicked: oops"`},
		{"unknown", wire.Request{Method: "nope"}, `"retry":false`},
		{"deadline", wire.Request{Method: "wait", ExecutionID: "d1", Attempt: 1, DeadlineMS: -1}, `"timeout":true`},
		{"cancel of nothing", wire.Request{Method: wire.MethodCancel, Params: json.RawMessage(`{"execution_id":"x","attempt":1}`)}, `"canceled":false`},
		{"cancel without id", wire.Request{Method: wire.MethodCancel, Params: json.RawMessage(`{}`)}, `"success":false`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got [2]string
			for i, call := range []func(context.Context, wire.Request) (wire.Reply, error){l.Call, c.Call} {
				req := tc.req
				if req.DeadlineMS == -1 { // 100 ms from this call
					req.DeadlineMS = time.Now().Add(100 * time.Millisecond).UnixMilli()
				}
				r, err := call(ctxT(t, 5*time.Second), req)
				if err != nil {
					t.Fatal(err)
				}
				m := body(t, r)
				delete(m, "id")
				b, _ := json.Marshal(m)
				got[i] = string(b)
			}
			if got[0] != got[1] {
				t.Errorf("in-process reply\n %s\nsocket reply\n %s", got[0], got[1])
			}
			if !strings.Contains(got[0], tc.want) {
				t.Errorf("reply %s lacks %s", got[0], tc.want)
			}
		})
	}
	for len(started) > 0 {
		<-started
	}
}

// Concurrency, cancel, a caller's deadline and the stop sequence of the
// in-process handler.
func TestLocal_ConcurrencyCancelStop(t *testing.T) {
	started, release := make(chan string, 10), make(chan struct{})
	l, reg := newLocal(t, localMux(started, release), 2)

	type result struct {
		r   wire.Reply
		err error
	}
	results := map[string]chan result{}
	call := func(id string) {
		ch := make(chan result, 1)
		results[id] = ch
		go func() {
			r, err := l.Call(ctxT(t, 10*time.Second), wire.Request{Method: "wait", ExecutionID: id, Attempt: 1})
			ch <- result{r, err}
		}()
	}
	call("a")
	call("b")
	first := map[string]bool{<-started: true, <-started: true}
	call("c")
	// c waits for a slot: canceling a frees one, and only then c starts.
	var victim string
	for id := range first {
		victim = id
		break
	}
	if got := l.Running(); got != 2 {
		t.Errorf("running = %d with concurrency 2", got)
	}
	if err := l.Cancel(ctxT(t, 5*time.Second), victim, 1); err != nil {
		t.Fatal(err)
	}
	if res := <-results[victim]; res.err != nil || res.r.Success || !strings.Contains(res.r.Error, "canceled") {
		t.Errorf("canceled job: %s %v", res.r.Raw, res.err)
	}
	if id := <-started; id != "c" {
		t.Fatalf("started %q after the cancel, want c", id)
	}

	// A caller that gives up gets wire.ErrTimeout: the job may have run.
	short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := l.Call(short, wire.Request{Method: "wait", ExecutionID: "d", Attempt: 1}); !errors.Is(err, wire.ErrTimeout) {
		t.Errorf("call past its deadline: %v, want wire.ErrTimeout", err)
	}

	// Stop: "stopping" at once, new jobs not run, running ones finish,
	// then "offline"; afterwards calls are not sent.
	stopped := make(chan struct{})
	go func() { _ = l.Stop(context.Background()); close(stopped) }()
	if err := reg.Await(ctxT(t, 5*time.Second), func(r *wiretest.Registry) bool {
		_, s, _ := r.Handler("tester")
		return s == handler.StatusStopping
	}); err != nil {
		t.Fatal(err)
	}
	r, err := l.Call(ctxT(t, 5*time.Second), wire.Request{Method: "echo", ExecutionID: "late"})
	if err != nil || !strings.Contains(string(r.Raw), `"not_run":true`) {
		t.Errorf("job while stopping: %s %v, want not_run", r.Raw, err)
	}
	close(release)
	<-stopped
	for _, id := range []string{"c"} {
		select {
		case res := <-results[id]:
			if res.err != nil || !res.r.Success {
				t.Errorf("job %s: %s %v", id, res.r.Raw, res.err)
			}
		default:
			t.Errorf("job %s had no reply when Stop returned", id)
		}
	}
	if _, s, _ := reg.Handler("tester"); s != handler.StatusOffline {
		t.Errorf("status after Stop = %q, want offline", s)
	}
	if _, err := l.Call(ctxT(t, 5*time.Second), wire.Request{Method: "echo"}); !errors.Is(err, wire.ErrUnavailable) || !errors.Is(err, wire.ErrPeerClosing) {
		t.Errorf("call after Stop: %v, want wire.ErrUnavailable and wire.ErrPeerClosing", err)
	}
	for len(started) > 0 {
		<-started
	}
}

func TestNewLocal_Refuses(t *testing.T) {
	if _, err := handler.NewLocal(handler.NewMux(), handler.Options{Name: "a/b"}); err == nil {
		t.Error("NewLocal with name a/b: no error")
	}
	if _, err := handler.NewLocal(nil, handler.Options{Name: "a"}); err == nil {
		t.Error("NewLocal with a nil mux: no error")
	}
}
