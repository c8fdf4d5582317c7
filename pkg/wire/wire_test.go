package wire_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"
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

// reqClient is a REQ socket as the original's Python handler uses it.
func reqClient(t *testing.T, ep string) zmq4.Socket {
	t.Helper()
	s := zmq4.NewReq(context.Background())
	if err := s.Dial(ep); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func roundTrip(t *testing.T, s zmq4.Socket, in string) string {
	t.Helper()
	if err := s.Send(zmq4.NewMsgString(in)); err != nil {
		t.Fatal(err)
	}
	got := make(chan zmq4.Msg, 1)
	go func() { m, _ := s.Recv(); got <- m }()
	select {
	case m := <-got:
		if len(m.Frames) != 1 {
			t.Fatalf("reply has %d frames, want 1", len(m.Frames))
		}
		return string(m.Frames[0])
	case <-time.After(5 * time.Second):
		s.Close()
		<-got
		t.Fatalf("no reply to %s", in)
		return ""
	}
}

func TestServer_OriginalMessages(t *testing.T) {
	reg := wiretest.NewRegistry()
	srv := wiretest.Serve(t, reg)
	c := reqClient(t, srv.Addr())
	// Golden frames: the original's requests and the exact replies.
	for _, tc := range []struct{ name, in, want string }{
		{"ping", `{"method":"ping"}`, `{"success":true,"message":"pong"}`},
		{"report unknown", `{"method":"report_status","params":{"handler_id":"ding-aling","status":"offline"}}`,
			`{"success":false,"error":"Handler not registered"}`},
		{"register", `{"method":"register","params":{"handler_id":"ding-aling","address":"tcp://127.0.0.1:4247","methods":["quick_aling","ping"]}}`,
			`{"success":true,"handler_id":"ding-aling","address":"tcp://127.0.0.1:4247","status":"registered","methods":["quick_aling","ping"],"message":"Handler ding-aling registered successfully"}`},
		{"re-register", `{"method":"register","params":{"handler_id":"ding-aling","address":"tcp://127.0.0.1:4247","methods":["quick_aling","ping"]}}`,
			`{"success":true,"handler_id":"ding-aling","address":"tcp://127.0.0.1:4247","status":"re-registered","methods":["quick_aling","ping"],"message":"Handler ding-aling re-registered successfully"}`},
		{"report offline", `{"method":"report_status","params":{"handler_id":"ding-aling","status":"offline"}}`,
			`{"success":true,"handler_id":"ding-aling","status":"offline"}`},
		{"unknown method", `{"method":"frobnicate"}`, `{"success":false,"error":"Unknown method: frobnicate"}`},
		{"invalid json", `{"method":`, `{"success":false,"error":"Invalid JSON: request: invalid JSON"}`},
		{"register without id", `{"method":"register","params":{"address":"tcp://x:1"}}`,
			`{"success":false,"error":"register: params.handler_id is required"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := roundTrip(t, c, tc.in); got != tc.want {
				t.Errorf("reply\n got %s\nwant %s", got, tc.want)
			}
		})
	}
	if _, status, _ := reg.Handler("ding-aling"); status != "offline" {
		t.Errorf("registry status = %q, want offline", status)
	}
}

func TestServer_ConcurrentClients(t *testing.T) {
	reg := wiretest.NewRegistry()
	srv := wiretest.Serve(t, reg)
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := range 20 {
		c := wire.NewClient(srv.Addr(), nil)
		t.Cleanup(func() { c.Close() })
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			st, err := c.Register(ctx, wire.Registration{HandlerID: fmt.Sprint("h", i), Address: "tcp://127.0.0.1:1", Protocol: 2})
			if err != nil || st != "registered" {
				errs <- fmt.Errorf("register h%d: %q %w", i, st, err)
				return
			}
			for range 10 {
				if err := c.Ping(ctx); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := reg.Registrations(); n != 20 {
		t.Errorf("registrations = %d, want 20", n)
	}
	if n := reg.SeenCount("h3"); n != 10 {
		t.Errorf("pings seen for h3 = %d, want 10", n)
	}
}

func TestClient_DetectsSchedulerRestart(t *testing.T) {
	ep := wiretest.IPC(t, "s.sock")
	start := func(reg wire.Registry) (func(), string) {
		ctx, cancel := context.WithCancel(context.Background())
		srv, err := wire.Listen(ctx, ep, reg, nil)
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { srv.Serve(ctx); close(done) }()
		return func() { cancel(); <-done }, srv.Addr()
	}
	stop, addr := start(wiretest.NewRegistry())
	c := wire.NewClient(addr, nil)
	defer c.Close()
	ctx := ctxT(t, 10*time.Second)
	if _, err := c.Register(ctx, wire.Registration{HandlerID: "a", Address: "ipc:///x", Protocol: 2}); err != nil {
		t.Fatal(err)
	}
	if err := c.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	stop()
	stop2, _ := start(wiretest.NewRegistry())
	defer stop2()
	// The first ping may hit the dead connection (ErrTimeout); within a few
	// tries the new instance answers and is recognised.
	var err error
	for range 20 {
		pctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		err = c.Ping(pctx)
		cancel()
		if errors.Is(err, wire.ErrSchedulerRestarted) {
			return
		}
	}
	t.Fatalf("ping after restart: %v, want ErrSchedulerRestarted", err)
}
