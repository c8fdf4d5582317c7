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
	c.limits, c.token = set.limits, set.jobToken
	return c
}

// link is one socket with its reader goroutine.
type link struct {
	sock   zmq4.Socket
	cancel context.CancelFunc

	mu      sync.Mutex
	pending map[string]*Pending
	broken  chan struct{}
	err     error
	// unread: the peer said it reads nothing more (Closing) after its
	// last reply, so a request still without one was not read.
	unread bool

	// Protocol >= 3: encoded requests waiting for the link's writer, which
	// sends all that are queued as one batch frame.
	out  []queued
	wake chan struct{}
}

// result is what a call waiting on its link receives.
type result struct {
	r   Reply
	err error
}

type queued struct {
	key     string
	payload []byte
}

// giveUpLocked ends the wait for the reply to request key: it forgets the
// call and, when the writer has not taken the request yet, takes it back.
// It returns what became of it: ErrUnavailable, never sent (or, after
// Closing, never read), or ErrTimeout, sent with no known outcome. The
// caller holds l.mu.
func (l *link) giveUpLocked(key string) error {
	delete(l.pending, key)
	for i, q := range l.out {
		if q.key == key {
			l.out = append(l.out[:i], l.out[i+1:]...)
			return ErrUnavailable
		}
	}
	if l.unread {
		return ErrUnavailable
	}
	return ErrTimeout
}

// giveUp is giveUpLocked for a caller that does not hold l.mu.
func (l *link) giveUp(key string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.giveUpLocked(key)
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
	// Calls waiting in Call see broken; those of Go are told here: a
	// request still queued was never sent, one sent has no known outcome.
	var gone []*Pending
	var errs []error
	for key, p := range l.pending {
		if p.fn == nil {
			continue
		}
		kind := l.giveUpLocked(key)
		gone = append(gone, p)
		errs = append(errs, fmt.Errorf("call %s %q: %w (%w)", p.address, p.method, kind, err))
	}
	l.mu.Unlock()
	l.cancel()
	l.sock.Close()
	for i, p := range gone {
		p.deliver(result{err: errs[i]})
	}
}

// Pending is a request in flight: a Call's, which waits on ch, or one sent
// by Go, whose callback fn receives the outcome exactly once.
type Pending struct {
	ch chan result

	fn      func(Reply, error)
	l       *link
	key     string
	address string
	method  string
	timer   *time.Timer
}

func (p *Pending) deliver(res result) {
	if p.ch != nil {
		p.ch <- res
		return
	}
	if p.timer != nil {
		p.timer.Stop()
	}
	p.fn(res.r, res.err)
}

// Abort ends the call of Go now, unless its outcome is known already: its
// callback receives ErrUnavailable when the request had not left yet, else
// ErrTimeout (it was sent; the outcome is unknown), both wrapping cause.
func (p *Pending) Abort(cause error) { p.end(cause) }

// expire is the deadline of a call of Go.
func (p *Pending) expire() { p.end(context.DeadlineExceeded) }

func (p *Pending) end(cause error) {
	l := p.l
	l.mu.Lock()
	if l.pending[p.key] != p {
		l.mu.Unlock()
		return // answered, failed or ended already
	}
	kind := l.giveUpLocked(p.key)
	l.mu.Unlock()
	p.deliver(result{err: fmt.Errorf("call %s %q: %w (%w)", p.address, p.method, kind, cause)})
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
	payload, err := json.Marshal(req)
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

// Go sends req like Call without waiting: done receives the reply, or the
// error Call would have returned, exactly once, on one of the Conn's
// goroutines or a timer's, and must not block. timeout bounds the wait
// like Call's ctx. The returned Pending can Abort the call.
//
// Go is for many calls in flight without a goroutine each waiting. It
// takes only what it can start at once: at protocol 3, with the
// connection up. Otherwise it returns false and does nothing; use Call,
// which dials and waits its turn.
func (c *Conn) Go(req Request, timeout time.Duration, done func(Reply, error)) (*Pending, bool) {
	if c.protocol < ProtocolBatched {
		return nil, false
	}
	c.mu.Lock()
	l := c.cur
	c.mu.Unlock()
	if l == nil {
		return nil, false
	}
	c.stamp(&req)
	if req.JobToken == "" {
		req.JobToken = c.token
	}
	payload, err := json.Marshal(req)
	if err != nil {
		return nil, false
	}
	p := &Pending{fn: done, l: l, key: req.ID, address: c.address, method: req.Method}
	l.mu.Lock()
	select {
	case <-l.broken:
		l.mu.Unlock()
		return nil, false
	default:
	}
	if _, dup := l.pending[p.key]; dup {
		l.mu.Unlock()
		return nil, false
	}
	l.pending[p.key] = p
	l.out = append(l.out, queued{key: p.key, payload: payload})
	p.timer = time.AfterFunc(timeout, p.expire)
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
	return p, true
}

// await queues payload for l's writer and waits for its reply. The caller
// has registered ch under key and holds l.mu.
func (c *Conn) await(ctx context.Context, l *link, key, method string, payload []byte, ch chan result) (Reply, error) {
	l.out = append(l.out, queued{key: key, payload: payload})
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default: // the writer is awake already
	}
	select {
	case res := <-ch:
		return res.r, res.err // a writer's error names the call already
	case <-l.broken:
		c.drop(l)
		select {
		case res := <-ch: // it came before the link broke (select picks either)
			return res.r, res.err
		default:
		}
		if errors.Is(l.giveUp(key), ErrUnavailable) {
			return Reply{}, fmt.Errorf("call %s %q: %w: %w", c.address, method, ErrUnavailable, l.err)
		}
		return Reply{}, fmt.Errorf("call %s %q: %w (%w)", c.address, method, ErrTimeout, l.err)
	case <-ctx.Done():
		if errors.Is(l.giveUp(key), ErrUnavailable) {
			return Reply{}, fmt.Errorf("call %s %q: not sent in time: %w (%w)", c.address, method, ErrUnavailable, ctx.Err())
		}
		return Reply{}, fmt.Errorf("call %s %q: %w (%w)", c.address, method, ErrTimeout, ctx.Err())
	}
}

// write sends the requests queued on l, as many as are waiting (up to
// MaxBatch) in one frame, until l breaks. Batching costs no latency: a
// request that finds the writer idle goes out alone at once; those queued
// while a send is in the kernel go out together in the next one.
func (c *Conn) write(l *link) {
	defer c.wg.Done()
	var (
		batch []queued
		msgs  [][]byte
		frame []byte
	)
	for {
		select {
		case <-l.wake:
		case <-l.broken:
			return
		}
		for {
			l.mu.Lock()
			n := batchLen(l.out)
			batch = append(batch[:0], l.out[:n]...)
			l.out = append(l.out[:0], l.out[n:]...)
			l.mu.Unlock()
			if n == 0 {
				break
			}
			msgs = msgs[:0]
			for _, q := range batch {
				msgs = append(msgs, q.payload)
			}
			frame = AppendBatch(frame[:0], msgs)
			if err := l.sock.Send(zmq4.NewMsg(frame)); err != nil {
				// Its callers learn it, as at protocol 2 (a reply that
				// arrived meanwhile was delivered already).
				var failed []*Pending
				l.mu.Lock()
				for _, q := range batch {
					if p, ok := l.pending[q.key]; ok {
						delete(l.pending, q.key)
						failed = append(failed, p)
					}
				}
				l.mu.Unlock()
				kind := c.sendFailed(l, err)
				for _, p := range failed {
					p.deliver(result{err: fmt.Errorf("call %s %q: send: %w (%w)", c.address, p.method, kind, err)})
				}
				return
			}
			if cap(frame) > 1<<20 {
				frame = nil // do not keep a rare huge batch's buffer
			}
		}
	}
}

// batchLen is how many of the queued requests go in the next batch frame:
// up to MaxBatch, and no more than MaxBatchBytes unless the first alone is
// larger, so that a batch is never what makes a frame exceed the peer's
// maximum message size.
func batchLen(out []queued) int {
	n, size := 0, 0
	for n < len(out) && n < MaxBatch {
		size += len(out[n].payload)
		if n > 0 && size > MaxBatchBytes {
			break
		}
		n++
	}
	return n
}

// sendFailed breaks l after a send on it returned err, and says what
// became of the request: ErrUnavailable, it cannot have reached the peer,
// or ErrTimeout, it may have. A write that failed (a broken pipe, a reset)
// left the peer no complete frame. But zmq4 also returns the cancellation
// of a link that broke meanwhile (its reader lost the connection) when the
// bytes went out: then only a peer that said Closing proves the request
// was not read.
func (c *Conn) sendFailed(l *link, err error) error {
	l.mu.Lock()
	var broke bool
	select {
	case <-l.broken:
		broke = true
	default:
	}
	unread := l.unread
	l.mu.Unlock()
	l.fail(err)
	c.drop(l)
	if broke && !unread && errors.Is(err, context.Canceled) {
		return ErrTimeout
	}
	return ErrUnavailable
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
	sock := zmq4.NewDealer(sctx, append(c.limits.SocketOptions(),
		zmq4.WithDialerMaxRetries(0),
		zmq4.WithDialerTimeout(dialTimeout))...)
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
	l := &link{sock: sock, cancel: cancel, pending: make(map[string]*Pending), broken: make(chan struct{}),
		wake: make(chan struct{}, 1)}
	c.cur = l
	c.dialErr = nil
	c.wg.Add(1)
	go c.read(l)
	if c.protocol >= ProtocolBatched {
		c.wg.Add(1)
		go c.write(l)
	}
}

// read delivers replies to their callers until the link breaks.
func (c *Conn) read(l *link) {
	defer c.wg.Done()
	type delivery struct {
		p *Pending
		r Reply
	}
	var ready []delivery
	for {
		msg, err := l.sock.Recv()
		if err != nil {
			l.fail(fmt.Errorf("connection lost: %w", err))
			c.drop(l)
			return
		}
		frame := lastFrame(msg.Frames)
		elems := [][]byte{frame}
		if c.protocol >= ProtocolBatched {
			if elems, err = SplitBatch(frame); err != nil {
				c.logger.Warn("bad reply dropped", "err", err)
				continue
			}
		}
		ready = ready[:0]
		closing := false
		l.mu.Lock()
		for _, b := range elems {
			r, err := DecodeReply(b)
			if err != nil {
				c.logger.Warn("bad reply dropped", "err", err)
				continue
			}
			key := ""
			if c.protocol >= ProtocolPipelined {
				key = r.ID
				if key == "" && IsClosing(r) {
					// Every reply the peer will send came before this:
					// what still waits for one was not read.
					l.unread = true
					closing = true
					break
				}
			}
			p, ok := l.pending[key]
			if !ok {
				c.logger.Debug("late or unknown reply dropped", "id", r.ID)
				continue
			}
			delete(l.pending, key)
			ready = append(ready, delivery{p, r})
		}
		l.mu.Unlock()
		for _, d := range ready {
			d.p.deliver(result{r: d.r})
		}
		clear(ready)
		if closing {
			l.fail(ErrPeerClosing)
			c.drop(l)
			return
		}
	}
}
