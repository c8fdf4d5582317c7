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
// REP handlers accept it; at protocol 2 the request is a single frame, which
// our ROUTER runner accepts. At protocol 0 one call is in
// flight at a time and a timed-out call throws the socket away, so a late
// reply can never be taken for the next call's. At protocol >= 2 calls are
// pipelined and matched by Request.ID. A request is never re-sent.
type Conn struct {
	address  string
	protocol int
	logger   *slog.Logger

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
// and reconnects after a failure.
func Dial(address string, protocol int, logger *slog.Logger) *Conn {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Conn{
		address:  address,
		protocol: protocol,
		logger:   logger.With("component", "wire", "address", address),
		turn:     make(chan struct{}, 1),
	}
}

// link is one socket with its reader goroutine.
type link struct {
	sock   zmq4.Socket
	cancel context.CancelFunc

	mu      sync.Mutex
	pending map[string]chan Reply
	broken  chan struct{}
	err     error
}

func (l *link) fail(err error) {
	l.mu.Lock()
	select {
	case <-l.broken:
		l.mu.Unlock()
		return
	default:
	}
	l.err = err
	close(l.broken)
	l.mu.Unlock()
	l.cancel()
	l.sock.Close()
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
		if req.ID == "" {
			req.ID = strconv.FormatUint(c.nextID.Add(1), 36)
		}
		if req.V == 0 {
			req.V = c.protocol
		}
		key = req.ID
	}
	payload, err := json.Marshal(req)
	if err != nil {
		return Reply{}, fmt.Errorf("call %s %q: encode: %w", c.address, req.Method, err)
	}
	ch := make(chan Reply, 1)
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
	l.pending[key] = ch
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
		l.fail(err)
		c.drop(l)
		return Reply{}, fmt.Errorf("call %s %q: send: %w: %w", c.address, req.Method, ErrUnavailable, err)
	}
	select {
	case r := <-ch:
		return r, nil
	case <-l.broken:
		c.drop(l)
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

// MethodCancel is the protocol 2 request that cancels a running attempt.
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

func (c *Conn) drop(l *link) {
	c.mu.Lock()
	if c.cur == l {
		c.cur = nil
	}
	c.mu.Unlock()
}

// link returns the live link, dialing one in the background when needed.
func (c *Conn) link(ctx context.Context) (*link, error) {
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return nil, ErrClosed
		}
		if c.cur != nil {
			l := c.cur
			c.mu.Unlock()
			return l, nil
		}
		if c.dialing == nil {
			c.dialing = make(chan struct{})
			c.wg.Add(1)
			go c.dial(c.dialing)
		}
		wait := c.dialing
		c.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, fmt.Errorf("dial: %w (%w)", ErrUnavailable, ctx.Err())
		}
		c.mu.Lock()
		ok := c.cur != nil
		dialErr := c.dialErr
		c.mu.Unlock()
		if !ok {
			return nil, fmt.Errorf("dial: %w: %w", ErrUnavailable, dialErr)
		}
	}
}

func (c *Conn) dial(done chan struct{}) {
	defer c.wg.Done()
	sctx, cancel := context.WithCancel(context.Background())
	sock := zmq4.NewDealer(sctx,
		zmq4.WithDialerMaxRetries(0),
		zmq4.WithDialerTimeout(dialTimeout),
		zmq4.WithTimeout(socketSendTimeout),
		zmq4.WithLogger(zmqLogger()))
	err := sock.Dial(c.address)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dialing = nil
	defer close(done)
	if err != nil || c.closed {
		cancel()
		sock.Close()
		if err == nil {
			err = ErrClosed
		}
		c.dialErr = err
		c.logger.Debug("dial failed", "err", err)
		return
	}
	l := &link{sock: sock, cancel: cancel, pending: make(map[string]chan Reply), broken: make(chan struct{})}
	c.cur = l
	c.dialErr = nil
	c.wg.Add(1)
	go c.read(l)
}

// read delivers replies to their callers until the link breaks.
func (c *Conn) read(l *link) {
	defer c.wg.Done()
	for {
		msg, err := l.sock.Recv()
		if err != nil {
			l.fail(fmt.Errorf("connection lost: %w", err))
			c.drop(l)
			return
		}
		r, err := DecodeReply(lastFrame(msg.Frames))
		if err != nil {
			c.logger.Warn("bad reply dropped", "err", err)
			continue
		}
		key := ""
		if c.protocol >= ProtocolPipelined {
			key = r.ID
		}
		l.mu.Lock()
		ch, ok := l.pending[key]
		delete(l.pending, key)
		l.mu.Unlock()
		if !ok {
			c.logger.Debug("late or unknown reply dropped", "id", r.ID)
			continue
		}
		ch <- r
	}
}
