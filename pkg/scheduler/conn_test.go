package scheduler

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/api"
	"github.com/schedulezero/schedulezero/pkg/store"
	"github.com/schedulezero/schedulezero/pkg/storetest"
	"github.com/schedulezero/schedulezero/pkg/wire"
)

// genConn is one connection a test dialed: the n-th, answering like
// wire.Conn (ErrClosed once closed).
type genConn struct {
	n int
	// hang, when set, is called with each call's context and its error
	// is the call's: the job outlives its deadline.
	hang func(context.Context) error

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
	if c.hang != nil {
		return wire.Reply{}, c.hang(ctx)
	}
	return wire.Reply{Success: true, Raw: json.RawMessage(`{"success":true}`)}, nil
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
	hang func(context.Context) error

	mu    sync.Mutex
	conns []*genConn
}

func (d *dialer) dial(string, int) Conn {
	d.mu.Lock()
	defer d.mu.Unlock()
	c := &genConn{n: len(d.conns), hang: d.hang}
	d.conns = append(d.conns, c)
	return c
}

func (d *dialer) get(n int) *genConn {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.conns[n]
}

// A call whose slot was taken on a connection that a new registration of
// the handler then replaced is sent on the new connection, within the same
// attempt, instead of failing on the closed one (seen in CI: a handler
// restarted while a run was committed got "wire: closed").
func TestReplacedConnection_CallGoesToTheNewOne(t *testing.T) {
	var d dialer
	s, err := New(context.Background(), Options{Store: storetest.New(t), DialFunc: d.dial, Location: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	reg := wire.Registration{HandlerID: "h", Address: "ipc:///nowhere", Methods: []string{"m"}, Protocol: 2, Concurrency: 1}
	if _, err := s.reg.Register(ctx, reg); err != nil {
		t.Fatal(err)
	}
	s.afterClaim = func() {
		if _, err := s.reg.Register(ctx, reg); err != nil {
			t.Error(err)
		}
	}
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer func() {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := s.Stop(sctx); err != nil {
			t.Error(err)
		}
	}()
	ex, err := s.RunNow(ctx, api.RunRequest{HandlerID: "h", Method: "m", Timeout: 5 * time.Second})
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
	reg := wire.Registration{HandlerID: "h", Address: "ipc:///nowhere", Methods: []string{"m"}, Protocol: 2, Concurrency: 1}
	var s *Scheduler
	d := dialer{hang: func(ctx context.Context) error {
		if _, err := s.reg.Register(ctx, reg); err != nil {
			return err
		}
		<-ctx.Done()
		return ctx.Err()
	}}
	s, err := New(ctx, Options{Store: storetest.New(t), DialFunc: d.dial, Location: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.reg.Register(ctx, reg); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer func() {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := s.Stop(sctx); err != nil {
			t.Error(err)
		}
	}()
	ex, err := s.RunNow(ctx, api.RunRequest{HandlerID: "h", Method: "m", Timeout: 50 * time.Millisecond})
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
	if _, ok := c.Go(wire.Request{}, time.Second, func(wire.Reply, error) {}); ok {
		t.Fatal("Go after Close started a call")
	}
	if n := inner.count(); n != 0 {
		t.Fatalf("%d calls reached the closed connection", n)
	}
}
