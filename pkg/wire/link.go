package wire

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/go-zeromq/zmq4"
)

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
	sock := zmq4.NewDealer(sctx, append(c.set.socketOptions(),
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
	var replies []Reply
	for {
		msg, err := l.sock.Recv()
		if err != nil {
			l.fail(fmt.Errorf("connection lost: %w", err))
			c.drop(l)
			return
		}
		replies = c.decodeReplies(lastFrame(msg.Frames), replies[:0])
		ready = ready[:0]
		closing := false
		l.mu.Lock()
		for _, r := range replies {
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
		clear(replies) // their Raw alias the frame: keep it no longer
		if closing {
			l.fail(ErrPeerClosing)
			c.drop(l)
			return
		}
	}
}

// decodeReplies appends the replies of frame to dst: in one pass when it
// has the common shape, else element by element, each bad one dropped
// with a warning (a bad batch, whole).
func (c *Conn) decodeReplies(frame []byte, dst []Reply) []Reply {
	if c.protocol >= ProtocolBatched {
		if out, ok := decodeRepliesFast(frame, dst); ok {
			return out
		}
	} else if r, ok := decodeReplyFast(frame); ok {
		return append(dst, r)
	}
	dst = dst[:0]
	elems := [][]byte{frame}
	if c.protocol >= ProtocolBatched {
		var err error
		if elems, err = SplitBatch(frame); err != nil {
			c.logger.Warn("bad reply dropped", "err", err)
			return dst
		}
	}
	for _, b := range elems {
		r, err := DecodeReply(b)
		if err != nil {
			c.logger.Warn("bad reply dropped", "err", err)
			continue
		}
		dst = append(dst, r)
	}
	return dst
}
