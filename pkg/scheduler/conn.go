package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/schedulezero/schedulezero/pkg/wire"
)

// Conn is the engine's connection to one handler. *wire.Conn is the real
// one; the fake-clock tests use an in-memory one so that simulated days pass
// in milliseconds.
type Conn interface {
	Call(ctx context.Context, req wire.Request) (wire.Reply, error)
	Cancel(ctx context.Context, executionID string, attempt int) error
	Close() error
}

// DialFunc opens a Conn to a handler's address, speaking protocol and
// putting jobToken (the token of the handler's registration, empty when
// it sent none) in every request. It must not block.
type DialFunc func(address string, protocol int, jobToken string) Conn

// WireDial is the default DialFunc: the ZeroMQ wire, with limits on what
// a handler may send, and extra options (CURVE). A DialFunc that serves some addresses itself (the
// scheduler's embedded handlers) hands the others to it.
func WireDial(logger *slog.Logger, limits wire.Limits, extra ...wire.Option) DialFunc {
	return func(address string, protocol int, jobToken string) Conn {
		return wire.Dial(address, protocol, logger, append([]wire.Option{wire.WithLimits(limits), wire.WithJobToken(jobToken)}, extra...)...)
	}
}

// drainConn closes its connection only once the calls on it have ended. A
// handler that registers again gets a new connection for new calls (a
// socket that was mid-call to a process that died must not carry the next
// job), while a reply already on its way over the old one is still read:
// a restarted handler at the same address may have answered a job sent
// before its registration arrived.
//
// A call that begins after Close (its slot was taken just before the
// handler registered again) sends nothing and returns errConnReplaced, which
// wraps wire.ErrUnavailable: the engine sends it again on the handler's
// current connection.
//
// Once the handler said it is closing (wire.ErrPeerClosing), the process
// this registration belongs to is going away: later calls send nothing
// and return errHandlerGone (a wire.ErrUnavailable too) instead of dialing
// a socket that is about to close, until its next registration replaces
// the connection.
type drainConn struct {
	Conn
	inst *instance // whose slots the calls on it hold
	// gone, when set, is told once that the handler said it is closing,
	// so that its instance gets no new work.
	goneFunc func(*drainConn)

	mu       sync.Mutex
	inFlight int
	closing  bool
	closed   bool
	gone     bool
}

var (
	// errConnReplaced is a call on a drainConn that was closed before the
	// call began: the request was not sent.
	errConnReplaced = fmt.Errorf("connection replaced by a newer registration of the handler: %w", wire.ErrUnavailable)
	// errHandlerGone is a call on a drainConn whose handler said it is
	// closing: the request was not sent.
	errHandlerGone = fmt.Errorf("the handler closed its socket; waiting for it to register again: %w", wire.ErrUnavailable)
)

func (c *drainConn) Call(ctx context.Context, req wire.Request) (wire.Reply, error) {
	if err := c.begin(); err != nil {
		return wire.Reply{}, err
	}
	defer c.end()
	r, err := c.Conn.Call(ctx, req)
	c.note(err)
	return r, err
}

// note marks the connection gone when err says the handler is closing.
func (c *drainConn) note(err error) {
	if err != nil && errors.Is(err, wire.ErrPeerClosing) {
		c.mu.Lock()
		first := !c.gone
		c.gone = true
		c.mu.Unlock()
		if first && c.goneFunc != nil {
			c.goneFunc(c)
		}
	}
}

// Go is Call without a goroutine waiting, when the connection can (see
// wire.Conn.Go); the call counts as in flight until done has run.
func (c *drainConn) Go(req wire.Request, timeout time.Duration, done func(wire.Reply, error)) (func(error), bool) {
	var goFn func(wire.Request, time.Duration, func(wire.Reply, error)) (func(error), bool)
	switch ac := c.Conn.(type) {
	case wireGo:
		goFn = func(req wire.Request, timeout time.Duration, done func(wire.Reply, error)) (func(error), bool) {
			p, ok := ac.Go(req, timeout, done)
			if !ok {
				return nil, false
			}
			return p.Abort, true
		}
	case asyncConn:
		goFn = ac.Go
	default:
		return nil, false
	}
	if c.begin() != nil {
		return nil, false // the goroutine path's Call says why
	}
	abort, ok := goFn(req, timeout, func(r wire.Reply, err error) {
		c.note(err)
		done(r, err)
		c.endAsync()
	})
	if !ok {
		c.endAsync()
	}
	return abort, ok
}

func (c *drainConn) Cancel(ctx context.Context, executionID string, attempt int) error {
	if err := c.begin(); err != nil {
		return err
	}
	defer c.end()
	return c.Conn.Cancel(ctx, executionID, attempt)
}

// begin counts a call in, unless the connection is closing or its handler
// gone: then it returns why, and the call must not use it.
func (c *drainConn) begin() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.closing:
		return errConnReplaced
	case c.gone:
		return errHandlerGone
	}
	c.inFlight++
	return nil
}

func (c *drainConn) end() {
	if c.leave() {
		_ = c.Conn.Close()
	}
}

// leave counts a call out and reports whether it was the last one of a
// closing connection, which the caller then closes.
func (c *drainConn) leave() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.inFlight--
	last := c.closing && c.inFlight == 0 && !c.closed
	if last {
		c.closed = true
	}
	return last
}

// endAsync is end for a call of Go, whose callback runs on a goroutine of
// the connection: closing it from there would wait for that goroutine.
func (c *drainConn) endAsync() {
	if c.leave() {
		go c.Conn.Close()
	}
}

// Close closes the connection now when no call is on it, else when the
// last one ends (each has a deadline).
func (c *drainConn) Close() error {
	c.mu.Lock()
	c.closing = true
	now := c.inFlight == 0 && !c.closed
	if now {
		c.closed = true
	}
	c.mu.Unlock()
	if now {
		return c.Conn.Close()
	}
	return nil
}
