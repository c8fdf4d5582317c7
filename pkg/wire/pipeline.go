package wire

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-zeromq/zmq4"
)

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
	payload, err := encodeRequest(req)
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
	for n < len(out) && fitsBatch(n, size, len(out[n].payload)) {
		size += len(out[n].payload)
		n++
	}
	return n
}

// fitsBatch reports whether a message of next bytes joins a batch of n
// messages of size bytes: up to MaxBatch, and no more than MaxBatchBytes
// unless the first alone is larger. Both ends' writers (Conn's and
// JobServer's) batch by it.
func fitsBatch(n, size, next int) bool {
	return n < MaxBatch && (n == 0 || size+next <= MaxBatchBytes)
}
