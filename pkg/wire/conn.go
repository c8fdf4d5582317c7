package wire

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zeromq/zmq4"
)

// dialTimeout bounds one TCP connect; the caller's ctx bounds its wait.
const dialTimeout = 5 * time.Second

// Conn is the scheduler's connection to one handler's job socket.
//
// It uses one DEALER socket. At protocol 0 every request goes behind an
// empty delimiter frame, exactly as a REQ socket sends it, so the original's
// REP handlers accept it; from protocol 2 on the request is a single frame, which
// our ROUTER runner accepts. At protocol 0 one call is in
// flight at a time and a timed-out call throws the socket away, so a late
// reply can never be taken for the next call's. At protocol >= 2 calls are
// pipelined and matched by Request.ID; at protocol 3 a writer goroutine
// sends the requests queued while it was busy as one batch frame, and
// replies may arrive batched too. A request is never re-sent.
type Conn struct {
	address  string
	protocol int
	token    string // protocol 4: put in every request (Request.JobToken)
	logger   *slog.Logger
	limits   Limits
	set      settings // its socketOptions: limits and security

	turn   chan struct{} // protocol 0: the one call in flight
	nextID atomic.Uint64

	mu      sync.Mutex
	cur     *link
	dialing chan struct{}
	dialErr error
	closed  bool
	wg      sync.WaitGroup
}

// Dial returns a Conn to address. It does not connect: the first Call does,
// and reconnects after a failure. The peer is held to the default Limits
// unless an option sets others: a reply too large, or a handshake too
// slow, breaks the connection, not the process.
func Dial(address string, protocol int, logger *slog.Logger, opts ...Option) *Conn {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	c := &Conn{
		address:  address,
		protocol: min(protocol, ProtocolLatest), // a newer peer speaks ours too
		logger:   logger.With("component", "wire", "address", address),
		turn:     make(chan struct{}, 1),
	}
	set := settingsOf(opts)
	c.limits, c.token, c.set = set.limits, set.jobToken, set
	return c
}

// Call sends req and waits for its reply until ctx is done.
//
// ErrUnavailable (wrapped) means req was never sent: the dial or the send
// failed, or ctx ended while waiting for a turn (protocol 0). ErrTimeout
// (wrapped) means req was sent and no reply came before ctx ended or the
// connection dropped: the outcome is unknown and req is not re-sent.
func (c *Conn) Call(ctx context.Context, req Request) (Reply, error) {
	if c.protocol < ProtocolPipelined {
		select {
		case c.turn <- struct{}{}:
		case <-ctx.Done():
			return Reply{}, fmt.Errorf("call %s %q: waiting for turn: %w (%w)", c.address, req.Method, ErrUnavailable, ctx.Err())
		}
		defer func() { <-c.turn }()
	}
	l, err := c.link(ctx)
	if err != nil {
		return Reply{}, fmt.Errorf("call %s %q: %w", c.address, req.Method, err)
	}
	key := ""
	if c.protocol >= ProtocolPipelined {
		key = c.stamp(&req)
	}
	if req.JobToken == "" {
		req.JobToken = c.token
	}
	payload, err := encodeRequest(req)
	if err != nil {
		return Reply{}, fmt.Errorf("call %s %q: encode: %w", c.address, req.Method, err)
	}
	p := &Pending{ch: make(chan result, 1), address: c.address, method: req.Method}
	ch := p.ch
	l.mu.Lock()
	select {
	case <-l.broken:
		l.mu.Unlock()
		c.drop(l)
		return Reply{}, fmt.Errorf("call %s %q: %w: %w", c.address, req.Method, ErrUnavailable, l.err)
	default:
	}
	if _, dup := l.pending[key]; dup {
		l.mu.Unlock()
		return Reply{}, fmt.Errorf("call %s %q: duplicate id %q: %w", c.address, req.Method, key, ErrUnavailable)
	}
	l.pending[key] = p
	if c.protocol >= ProtocolBatched {
		return c.await(ctx, l, key, req.Method, payload, ch)
	}
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		delete(l.pending, key)
		l.mu.Unlock()
	}()

	// A send blocked on a peer that stopped reading is ended by breaking
	// the link when ctx ends.
	// At protocol 0 the link is ours alone, so that is cheap; pipelined
	// links are shared and rely on the kernel buffer and the reader.
	if c.protocol < ProtocolPipelined {
		stop := context.AfterFunc(ctx, func() { l.fail(fmt.Errorf("send: %w", ctx.Err())) })
		err = l.sock.Send(zmq4.NewMsgFrom(nil, payload))
		if !stop() {
			c.drop(l)
			return Reply{}, fmt.Errorf("call %s %q: %w (%w)", c.address, req.Method, ErrTimeout, ctx.Err())
		}
	} else {
		// Protocol 2 peers are ROUTERs: no REQ delimiter needed, and one
		// frame fewer is two syscalls fewer per direction in zmq4.
		err = l.sock.Send(zmq4.NewMsg(payload))
	}
	if err != nil {
		select {
		case res := <-ch: // the reply beat the error: it was sent
			return res.r, nil
		default:
		}
		return Reply{}, fmt.Errorf("call %s %q: send: %w (%w)", c.address, req.Method, c.sendFailed(l, err), err)
	}
	select {
	case res := <-ch:
		return res.r, nil
	case <-l.broken:
		c.drop(l)
		select {
		case res := <-ch: // it came before the link broke (select picks either)
			return res.r, nil
		default:
		}
		if errors.Is(l.giveUp(key), ErrUnavailable) { // the peer said Closing
			return Reply{}, fmt.Errorf("call %s %q: %w: %w", c.address, req.Method, ErrUnavailable, l.err)
		}
		return Reply{}, fmt.Errorf("call %s %q: %w (%w)", c.address, req.Method, ErrTimeout, l.err)
	case <-ctx.Done():
		if c.protocol < ProtocolPipelined {
			// A late reply must never answer the next call.
			l.fail(errors.New("abandoned after timeout"))
			c.drop(l)
		}
		return Reply{}, fmt.Errorf("call %s %q: %w (%w)", c.address, req.Method, ErrTimeout, ctx.Err())
	}
}

// stamp gives a pipelined request its correlation id and the protocol
// version, unless it has them, and returns the id.
func (c *Conn) stamp(req *Request) string {
	if req.ID == "" {
		req.ID = strconv.FormatUint(c.nextID.Add(1), 36)
	}
	if req.V == 0 {
		req.V = c.protocol
	}
	return req.ID
}

// Cancel asks a protocol >= 2 handler to cancel a running attempt.
func (c *Conn) Cancel(ctx context.Context, executionID string, attempt int) error {
	if c.protocol < ProtocolPipelined {
		return fmt.Errorf("cancel %s on %s: protocol %d has no cancel: %w", executionID, c.address, c.protocol, ErrProtocol)
	}
	params, _ := json.Marshal(map[string]any{"execution_id": executionID, "attempt": attempt})
	r, err := c.Call(ctx, Request{Method: MethodCancel, Params: params, ExecutionID: executionID, Attempt: attempt})
	if err != nil {
		return err
	}
	if !r.Success {
		return fmt.Errorf("cancel %s on %s: %s: %w", executionID, c.address, r.Error, ErrProtocol)
	}
	return nil
}

// MethodCancel is the request (protocol 2 and later) that cancels a running attempt.
const MethodCancel = "sz.cancel"

// Close closes the socket; calls in flight end with ErrTimeout.
func (c *Conn) Close() error {
	c.mu.Lock()
	c.closed = true
	l := c.cur
	c.cur = nil
	c.mu.Unlock()
	if l != nil {
		l.fail(ErrClosed)
	}
	c.wg.Wait()
	return nil
}
