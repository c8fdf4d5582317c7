package scheduler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/scheduler/schedtype"
	"github.com/schedulezero/schedulezero/pkg/store"
	"github.com/schedulezero/schedulezero/pkg/store/storetest"
	"github.com/schedulezero/schedulezero/pkg/wire"
)

// genConn is one connection a test dialed: the n-th, answering like
// wire.Conn (ErrClosed once closed).
type genConn struct {
	n int
	// answer, when set, answers each call; else it succeeds.
	answer func(context.Context, *genConn) (wire.Reply, error)

	mu      sync.Mutex
	closed  bool
	calls   int
	cancels int
}

func (c *genConn) Call(ctx context.Context, _ wire.Request) (wire.Reply, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return wire.Reply{}, wire.ErrClosed
	}
	c.calls++
	c.mu.Unlock()
	if c.answer != nil {
		return c.answer(ctx, c)
	}
	return wire.Reply{Success: true, Raw: json.RawMessage(`{"success":true}`)}, nil
}

func (c *genConn) Go(req wire.Request, timeout time.Duration, done func(wire.Reply, error)) func(error) {
	return goCall(c, req, timeout, done)
}

func (c *genConn) Cancel(context.Context, string, int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return wire.ErrClosed
	}
	c.cancels++
	return nil
}

func (c *genConn) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	return nil
}

func (c *genConn) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls
}

func (c *genConn) cancelCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cancels
}

type dialer struct {
	answer func(context.Context, *genConn) (wire.Reply, error)

	mu    sync.Mutex
	conns []*genConn
}

func (d *dialer) dial(string, int, string) Conn {
	d.mu.Lock()
	defer d.mu.Unlock()
	c := &genConn{n: len(d.conns), answer: d.answer}
	d.conns = append(d.conns, c)
	return c
}

func (d *dialer) get(n int) *genConn {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.conns[n]
}

// testReg is the one handler of these tests.
var testReg = wire.Registration{HandlerID: "h", Address: "ipc:///nowhere", Methods: []string{"m"}, Protocol: 2, Concurrency: 1}

// startEngine starts an engine that dials d, with testReg registered;
// before, when not nil, runs before the engine starts. It stops when the
// test ends.
func startEngine(t *testing.T, d *dialer, before func(*Scheduler)) *Scheduler {
	t.Helper()
	ctx := context.Background()
	s, err := New(ctx, Options{Store: storetest.New(t), DialFunc: d.dial, Location: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.reg.Register(ctx, testReg); err != nil {
		t.Fatal(err)
	}
	if before != nil {
		before(s)
	}
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := s.Stop(sctx); err != nil {
			t.Error(err)
		}
	})
	return s
}

// A call whose slot was taken on a connection that a new registration of
// the handler then replaced is sent on the new connection, within the same
// attempt, instead of failing on the closed one (seen in CI: a handler
// restarted while a run was committed got "wire: closed").
func TestReplacedConnection_CallGoesToTheNewOne(t *testing.T) {
	var d dialer
	ctx := context.Background()
	s := startEngine(t, &d, func(s *Scheduler) {
		s.afterClaim = func() {
			if _, err := s.reg.Register(ctx, testReg); err != nil {
				t.Error(err)
			}
		}
	})
	ex, err := s.RunNow(ctx, schedtype.RunRequest{HandlerID: "h", Method: "m", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if ex.Status != store.StatusSucceeded || ex.Attempt != 1 {
		t.Fatalf("execution %+v, want attempt 1 succeeded", ex)
	}
	if old, cur := d.get(0).count(), d.get(1).count(); old != 0 || cur != 1 {
		t.Fatalf("calls on the replaced connection %d, on the new one %d; want 0 and 1", old, cur)
	}
}

// A job that timed out after its handler registered again (a runner whose
// pings failed does so while its jobs run) is cancelled on the handler's
// new connection: the old one is closed by then.
func TestReplacedConnection_CancelGoesToTheNewOne(t *testing.T) {
	ctx := context.Background()
	var s *Scheduler
	d := dialer{answer: func(ctx context.Context, _ *genConn) (wire.Reply, error) {
		if _, err := s.reg.Register(ctx, testReg); err != nil {
			return wire.Reply{}, err
		}
		<-ctx.Done()
		return wire.Reply{}, ctx.Err()
	}}
	s = startEngine(t, &d, nil)
	ex, err := s.RunNow(ctx, schedtype.RunRequest{HandlerID: "h", Method: "m", Timeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if ex.Status != store.StatusTimedOut {
		t.Fatalf("execution %+v, want timeout", ex)
	}
	if n := d.get(1).cancelCount(); n != 1 {
		t.Fatalf("cancels on the new connection: %d, want 1", n)
	}
}

// A job that a stopping handler refused before starting it ("not_run") is
// sent again in the same attempt once the handler registers again, and
// fails with the handler's reason if none does before the deadline.
func TestNotRun_SentAgainToTheNextRegistration(t *testing.T) {
	for _, tc := range []struct {
		name       string
		comeBack   bool
		wantStatus store.Status
	}{
		{"handler comes back", true, store.StatusSucceeded},
		{"handler stays away", false, store.StatusFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			var s *Scheduler
			refused := make(chan struct{}, 1)
			d := dialer{answer: func(ctx context.Context, c *genConn) (wire.Reply, error) {
				if c.n > 0 {
					return wire.Reply{Success: true, Raw: json.RawMessage(`{"success":true}`)}, nil
				}
				// What a stopping runner does: says so, then refuses.
				if err := s.reg.ReportStatus(ctx, "h", "stopping"); err != nil {
					return wire.Reply{}, err
				}
				select {
				case refused <- struct{}{}:
				default:
				}
				return wire.DecodeReply([]byte(`{"success":false,"error":"handler shutting down","not_run":true}`)) // the fields as the Conn decodes them
			}}
			s = startEngine(t, &d, nil)
			timeout := 10 * time.Second
			if !tc.comeBack {
				timeout = 200 * time.Millisecond
			}
			got := make(chan store.Execution, 1)
			go func() {
				ex, err := s.RunNow(ctx, schedtype.RunRequest{HandlerID: "h", Method: "m", Timeout: timeout})
				if err != nil {
					t.Error(err)
				}
				got <- ex
			}()
			<-refused
			if tc.comeBack {
				if _, err := s.reg.Register(ctx, testReg); err != nil {
					t.Fatal(err)
				}
			}
			ex := <-got
			if ex.Status != tc.wantStatus || ex.Attempt != 1 {
				t.Fatalf("execution %+v, want attempt 1 %s", ex, tc.wantStatus)
			}
			if n := d.get(0).count(); n != 1 {
				t.Errorf("calls on the stopping handler: %d, want 1 (it said stopping: no resend there)", n)
			}
			if tc.comeBack {
				if n := d.get(1).count(); n != 1 {
					t.Errorf("calls after it came back: %d, want 1", n)
				}
			} else if !strings.Contains(ex.Error, "refused the job without starting it (handler shutting down)") {
				t.Errorf("error %q does not say why", ex.Error)
			}
		})
	}
}

func TestDrainConn_CallAfterCloseSendsNothing(t *testing.T) {
	inner := &genConn{}
	c := &drainConn{Conn: inner}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Call(context.Background(), wire.Request{Method: "m"}); !errors.Is(err, wire.ErrUnavailable) {
		t.Fatalf("Call after Close: %v, want one wrapping wire.ErrUnavailable (not sent)", err)
	}
	if err := c.Cancel(context.Background(), "x", 1); !errors.Is(err, wire.ErrUnavailable) {
		t.Fatalf("Cancel after Close: %v, want wire.ErrUnavailable", err)
	}
	goErr := make(chan error, 1)
	c.Go(wire.Request{}, time.Second, func(_ wire.Reply, err error) { goErr <- err })
	if err := <-goErr; !errors.Is(err, wire.ErrUnavailable) {
		t.Fatalf("Go after Close: %v, want wire.ErrUnavailable (not sent)", err)
	}
	if n := inner.count(); n != 0 {
		t.Fatalf("%d calls reached the closed connection", n)
	}
}

// Once a call learns that the handler is closing, the connection sends
// nothing more (no dial to a socket about to close) until the next
// registration replaces it.
func TestDrainConn_HandlerClosingEndsIt(t *testing.T) {
	inner := &genConn{answer: func(context.Context, *genConn) (wire.Reply, error) {
		return wire.Reply{}, fmt.Errorf("call: %w: %w", wire.ErrUnavailable, wire.ErrPeerClosing)
	}}
	c := &drainConn{Conn: inner}
	if _, err := c.Call(context.Background(), wire.Request{Method: "m"}); !errors.Is(err, wire.ErrPeerClosing) {
		t.Fatalf("first call: %v", err)
	}
	_, err := c.Call(context.Background(), wire.Request{Method: "m"})
	if !errors.Is(err, errHandlerGone) || !errors.Is(err, wire.ErrUnavailable) {
		t.Fatalf("call after Closing: %v, want errHandlerGone (unavailable)", err)
	}
	if n := inner.count(); n != 1 {
		t.Fatalf("%d calls reached the connection, want 1", n)
	}
}
