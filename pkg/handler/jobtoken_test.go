package handler_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"
	"github.com/schedulezero/schedulezero/pkg/handler"
	"github.com/schedulezero/schedulezero/pkg/wire"
	"github.com/schedulezero/schedulezero/pkg/wire/wiretest"
)

// Anyone who can connect to a handler's job socket could run its jobs with
// forged execution ids. Now a job request must carry the job token the
// handler sent when it registered: a raw DEALER that sends one without it,
// or with another, is refused and the method is not called; the same job
// with the token runs; a plain ping needs no token (the governor's health
// check has none).
func TestServe_RefusesJobsWithoutItsToken(t *testing.T) {
	reg := wiretest.NewRegistry()
	srv := wiretest.Serve(t, reg)
	var calls atomic.Int64
	mux := handler.NewMux()
	mux.HandleFunc("work", func(context.Context, *handler.Job) (any, error) {
		calls.Add(1)
		return "done", nil
	})
	startHandler(t, mux, handler.Options{Name: "victim", Scheduler: srv.Addr()})
	h, _, ok := reg.Handler("victim")
	if !ok || len(h.JobToken) != 32 || h.Protocol != wire.ProtocolJobToken {
		t.Fatalf("registration %+v: want protocol 4 with a 32-character job token", h)
	}

	// The job socket (ipc:// here) is owner-only too.
	if fi, err := os.Stat(strings.TrimPrefix(h.Address, "ipc://")); err != nil || fi.Mode().Perm() != wire.IPCMode {
		t.Errorf("job socket %s: %v %v, want mode %v", h.Address, fi.Mode().Perm(), err, wire.IPCMode)
	}

	forger := zmq4.NewDealer(context.Background(), zmq4.WithTimeout(5*time.Second))
	defer forger.Close()
	if err := forger.Dial(h.Address); err != nil {
		t.Fatal(err)
	}
	// ask sends req and returns its replies, one per request in it: the
	// replies to one batch may come in more than one frame (the writer
	// sends what is queued when it wakes).
	ask := func(req string) []map[string]any {
		t.Helper()
		if err := forger.Send(zmq4.NewMsgString(req)); err != nil {
			t.Fatal(err)
		}
		var out []map[string]any
		for want := max(1, strings.Count(req, `"method"`)); len(out) < want; {
			got := make(chan zmq4.Msg, 1)
			go func() { m, _ := forger.Recv(); got <- m }()
			select {
			case m := <-got:
				if len(m.Frames) == 0 {
					t.Fatalf("no reply to %s", req)
				}
				elems, err := wire.SplitBatch(m.Frames[len(m.Frames)-1])
				for _, e := range elems {
					var r map[string]any
					if json.Unmarshal(e, &r) != nil {
						err = fmt.Errorf("not JSON: %s", e)
					}
					out = append(out, r)
				}
				if err != nil {
					t.Fatalf("reply to %s: %v", req, err)
				}
			case <-time.After(5 * time.Second):
				forger.Close()
				<-got
				t.Fatalf("no reply to %s", req)
				return nil
			}
		}
		return out
	}
	other := wire.NewJobToken()
	for _, tc := range []struct{ name, req, wantErr string }{
		{"no token", `{"method":"work","id":"1","execution_id":"forged-1","attempt":1,"v":3}`, "job_token is missing"},
		{"wrong token", `{"method":"work","id":"2","execution_id":"forged-2","attempt":1,"v":3,"job_token":"` + other + `"}`, "job_token does not match"},
		{"short token", `{"method":"work","id":"3","execution_id":"forged-3","v":2,"job_token":"` + h.JobToken[:31] + `"}`, "job_token does not match"},
		{"cancel without token", `{"method":"sz.cancel","id":"4","params":{"execution_id":"x","attempt":1},"v":3}`, "job_token is missing"},
		{"batch without token", `[{"method":"work","id":"5","v":3},{"method":"work","id":"6","v":3}]`, "job_token is missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, out := range ask(tc.req) {
				if msg, _ := out["error"].(string); out["success"] != false || out["not_run"] != true || !strings.Contains(msg, tc.wantErr) {
					t.Errorf("reply %v, want a refusal saying %q", out, tc.wantErr)
				}
			}
		})
	}
	if out := ask(`{"method":"ping","id":"p"}`)[0]; out["success"] != true || out["message"] != "pong" {
		t.Errorf("ping without a token: %v, want pong", out)
	}
	if n := calls.Load(); n != 0 {
		t.Fatalf("the method ran %d times for forged requests, want 0", n)
	}

	// The scheduler's requests carry the token and run.
	c := wire.Dial(h.Address, h.Protocol, nil, wire.WithJobToken(h.JobToken))
	defer c.Close()
	r, err := c.Call(ctxT(t, 5*time.Second), wire.Request{Method: "work", ExecutionID: "real-1", Attempt: 1})
	if err != nil || !r.Success {
		t.Fatalf("the job with the token: %s %v", r.Raw, err)
	}
	if out := ask(`{"method":"work","id":"7","v":3,"job_token":"` + h.JobToken + `"}`)[0]; out["success"] != true {
		t.Errorf("a raw request with the token: %v", out)
	}
	if n := calls.Load(); n != 2 {
		t.Errorf("the method ran %d times, want 2 (the requests with the token)", n)
	}
}

// A scheduler older than protocol 4 sends no job token, and says no
// "protocol" in its register reply: the runner it registered with then
// runs its jobs without a token, so that a handler upgraded before its
// scheduler keeps working.
func TestServe_OlderSchedulerNeedsNoToken(t *testing.T) {
	ep := wiretest.IPC(t, "old-scheduler.sock")
	old := zmq4.NewRouter(context.Background(), zmq4.WithTimeout(5*time.Second))
	if err := old.Listen(ep); err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		for {
			m, err := old.Recv()
			if err != nil {
				return
			}
			// The reply of a scheduler before protocol 4: no "protocol".
			frames := append(m.Frames[:len(m.Frames)-1:len(m.Frames)-1], []byte(`{"success":true,"status":"registered","message":"pong"}`))
			_ = old.Send(zmq4.NewMsgFrom(frames...))
		}
	}()
	t.Cleanup(func() { old.Close(); <-served })

	var calls atomic.Int64
	mux := handler.NewMux()
	mux.HandleFunc("work", func(context.Context, *handler.Job) (any, error) {
		calls.Add(1)
		return "done", nil
	})
	hep := wiretest.IPC(t, "h.sock")
	startHandler(t, mux, handler.Options{Name: "upgraded", Endpoint: hep, Scheduler: ep, PingInterval: time.Hour})
	c := wire.Dial(hep, wire.ProtocolBatched, nil) // the old scheduler's Conn: no token
	defer c.Close()
	r, err := c.Call(ctxT(t, 5*time.Second), wire.Request{Method: "work", ExecutionID: "e1", Attempt: 1})
	if err != nil || !r.Success || calls.Load() != 1 {
		t.Fatalf("a job of an older scheduler: %s %v (%d calls), want it run", r.Raw, err, calls.Load())
	}
}
