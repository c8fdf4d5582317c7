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

// Conn is the engine's connection to one handler. WireConn adapts the real
// one, *wire.Conn; the fake-clock tests use an in-memory one so that
// simulated days pass in milliseconds.
type Conn interface {
	// Go sends req like Call without a goroutine of the caller's waiting
	// for the reply: done receives what Call would have returned, exactly
	// once, on another goroutine, and must not block. timeout bounds the
	// wait like Call's ctx; abort ends the call for a cause (done then
	// receives an error). Every first attempt that got a slot at fire
	// time is sent with Go (see send): a connection that cannot pipeline
	// (protocols before 3, not connected yet) runs Call on a goroutine
	// of its own instead (LockStep, WireConn), so the engine never asks
	// which kind it has.
	Go(req wire.Request, timeout time.Duration, done func(wire.Reply, error)) (abort func(error))
	Call(ctx context.Context, req wire.Request) (wire.Reply, error)
	Cancel(ctx context.Context, executionID string, attempt int) error
	Close() error
}

// Caller is a connection that sends only in lock-step: Call waits for
// the reply. LockStep makes a Conn of it.
type Caller interface {
	Call(ctx context.Context, req wire.Request) (wire.Reply, error)
	Cancel(ctx context.Context, executionID string, attempt int) error
	Close() error
}

// LockStep is the Conn of c, whose Go runs Call on a goroutine.
func LockStep(c Caller) Conn { return lockStep{c} }

type lockStep struct{ Caller }

func (c lockStep) Go(req wire.Request, timeout time.Duration, done func(wire.Reply, error)) func(error) {
	return goCall(c.Caller, req, timeout, done)
}

// goCall is Go by Call on a goroutine: for a connection (or a moment)
// that cannot pipeline.
func goCall(c Caller, req wire.Request, timeout time.Duration, done func(wire.Reply, error)) func(error) {
	ctx, abort := context.WithCancelCause(context.Background())
	go func() {
		callCtx, cancel := context.WithTimeout(ctx, timeout)
		r, err := c.Call(callCtx, req)
		cancel()
		abort(nil)
		done(r, err)
	}()
	return abort
}

// WireConn is the Conn of c: its Go is c.Go when c can start the call at
// once (protocol 3 and later, connected), else Call on a goroutine, which
// dials and waits its turn.
func WireConn(c *wire.Conn) Conn { return wireConn{c} }

type wireConn struct{ *wire.Conn }

func (c wireConn) Go(req wire.Request, timeout time.Duration, done func(wire.Reply, error)) func(error) {
	if p, ok := c.Conn.Go(req, timeout, done); ok {
		return p.Abort
	}
	return goCall(c.Conn, req, timeout, done)
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
		return WireConn(wire.Dial(address, protocol, logger, append([]wire.Option{wire.WithLimits(limits), wire.WithJobToken(jobToken)}, extra...)...))
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

// Go is Conn.Go; the call counts as in flight until done has run. A
// call the connection cannot take (see begin) is not sent: done receives
// why, as from Call.
func (c *drainConn) Go(req wire.Request, timeout time.Duration, done func(wire.Reply, error)) func(error) {
	if err := c.begin(); err != nil {
		go done(wire.Reply{}, err)
		return func(error) {}
	}
	return c.Conn.Go(req, timeout, func(r wire.Reply, err error) {
		c.note(err)
		done(r, err)
		c.endAsync()
	})
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
