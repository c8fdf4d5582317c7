package scheduler

import (
	"container/list"
	"context"
	"fmt"
	"time"

	"github.com/schedulezero/schedulezero/pkg/store"
	"github.com/schedulezero/schedulezero/pkg/wire"
)

// The slot queue. An attempt that finds its handler without a free slot
// waits in the handler's queue, oldest first, and a freed slot is handed
// to the oldest waiter it fits: a release costs one hand-over however many
// wait (it used to wake them all to race for it), and a later fire cannot
// take the slot from an attempt that waited longer.
//
// A first attempt that fired while its handler was busy waits with no
// goroutine: its queue entry and deadline timer are a few hundred bytes,
// where a goroutine waiting with its contexts held about 8 KB (with ten
// thousand schedules on a saturated or stopped handler, that was most of
// the scheduler's heap and stacks). Given a slot, it is recorded running
// and sent on the fast path. Other waits (a retry, a recovery question)
// keep their goroutine, which waits in the same queue.

// slotWait is one attempt in a handler's slot queue. Exactly one of ex (a
// first attempt waiting without a goroutine) and ch (a goroutine in
// takeWhenReady) is set.
type slotWait struct {
	pick func() *instance // chooses the instance; nil: any ready one matching on
	on   []string
	seq  uint64        // its place in the order of the handler's waiters
	el   *list.Element // in the queue; nil once it left

	ex    *execution
	s     *Scheduler
	timer *time.Timer // ex's deadline

	ch chan Conn // receives the slot, or nil when the handler was removed
}

// plain reports whether any instance's free slot fits w: every plain
// waiter is picked alike, so one that fits none means none behind it does.
func (w *slotWait) plain() bool { return w.pick == nil && len(w.on) == 0 }

// choose is the instance w would take a slot of now, or nil; the caller
// holds h.mu.
func (w *slotWait) choose(h *handlerState) *instance {
	if w.pick != nil {
		return w.pick()
	}
	return h.pickLocked(w.on, nil)
}

// list is the queue w waits in.
func (h *handlerState) list(w *slotWait) *list.List {
	if w.plain() {
		return &h.plain
	}
	return &h.picky
}

// queuedLocked is the number of waiters; the caller holds h.mu.
func (h *handlerState) queuedLocked() int { return h.plain.Len() + h.picky.Len() }

// enqueueLocked puts w last in h's queue; the caller holds h.mu.
func (h *handlerState) enqueueLocked(w *slotWait) {
	h.seq++
	w.seq = h.seq
	w.el = h.list(w).PushBack(w)
}

// dequeueLocked takes w out of h's queue and reports whether it was in
// it; the caller holds h.mu.
func (h *handlerState) dequeueLocked(w *slotWait) bool {
	if w.el == nil {
		return false
	}
	h.list(w).Remove(w.el)
	w.el = nil
	return true
}

// unqueue takes w out of h's queue, if it is still there.
func (h *handlerState) unqueue(w *slotWait) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.dequeueLocked(w)
}

// serveLocked hands free slots to the waiters they fit, oldest first, and
// fails every waiter of a removed handler. Of the plain waiters it looks
// at the oldest alone (one look per release, however many wait); the
// picky ones, few, it looks through. The caller holds h.mu.
func (h *handlerState) serveLocked() {
	if h.rec.Status == handlerRemoved {
		for _, l := range []*list.List{&h.plain, &h.picky} {
			for el := l.Front(); el != nil; el = l.Front() {
				w := el.Value.(*slotWait)
				h.dequeueLocked(w)
				w.grantLocked(h, nil)
			}
		}
		return
	}
	plainDone := false
	for {
		var w *slotWait
		var in *instance
		if el := h.plain.Front(); el != nil && !plainDone {
			if in = h.pickLocked(nil, nil); in != nil {
				w = el.Value.(*slotWait)
			} else {
				plainDone = true
			}
		}
		for el := h.picky.Front(); el != nil; el = el.Next() {
			p := el.Value.(*slotWait)
			if w != nil && p.seq > w.seq {
				break
			}
			if pin := p.choose(h); pin != nil {
				w, in = p, pin
				break
			}
		}
		if w == nil {
			return
		}
		in.inFlight++
		h.dequeueLocked(w)
		w.grantLocked(h, in.conn)
	}
}

// grantLocked gives w the slot on conn, or nil when its handler was
// removed. It must not block: the caller holds h.mu.
func (w *slotWait) grantLocked(h *handlerState, conn Conn) {
	if w.ch != nil {
		w.ch <- conn // buffered: one grant per wait
		return
	}
	w.timer.Stop()
	if conn == nil {
		err := fmt.Errorf("handler %q: %w", h.rec.ID, errHandlerRemoved)
		go w.s.waited(w.ex, err)
		return
	}
	w.s.granted.push(slotGrant{w.ex, h, conn})
}

// slotGrant is a slot handed to a first attempt waiting without a
// goroutine.
type slotGrant struct {
	ex   *execution
	h    *handlerState
	conn Conn
}

// waitForSlot queues ex's first attempt, whose fire found no free slot,
// on its handler; dispatch calls it once the fire is durable. It is sent
// from startGranted when a slot comes, and continues on the goroutine path
// when its deadline passes first, it is cancelled, the scheduler stops or
// the handler is removed. Lock order: h.mu, then ex.mu.
func (s *Scheduler) waitForSlot(ex *execution) {
	h := s.reg.await(ex.rec.HandlerID)
	w := &slotWait{on: ex.policy.On, ex: ex, s: s}
	h.mu.Lock()
	if h.rec.Status == handlerRemoved {
		h.mu.Unlock()
		go s.run(ex, nil) // fails at once, saying why
		return
	}
	if in := h.pickLocked(w.on, nil); in != nil && h.queuedLocked() == 0 {
		in.inFlight++
		h.mu.Unlock()
		s.startGranted([]slotGrant{{ex, h, in.conn}})
		return
	}
	// The deadline and the cancel are in place before w joins: a grant
	// stops the one and clears the other.
	w.timer = time.AfterFunc(ex.timeout, func() { s.expired(h, w) })
	ex.mu.Lock()
	ex.abortCall = func(error) {
		if h.unqueue(w) {
			w.timer.Stop()
			go s.waited(ex, nil)
		}
	}
	cancelled := ex.cause != nil
	ex.mu.Unlock()
	h.enqueueLocked(w)
	h.serveLocked() // a slot the waiters ahead do not fit may fit w
	h.mu.Unlock()
	// A cancel before abortCall was set, or a stop that drained the queues
	// before w joined, finds w here.
	if (cancelled || s.waitCtx.Err() != nil) && h.unqueue(w) {
		w.timer.Stop()
		go s.waited(ex, nil)
	}
}

// expired ends w's wait at its deadline, if it still waits.
func (s *Scheduler) expired(h *handlerState, w *slotWait) {
	h.mu.Lock()
	if !h.dequeueLocked(w) {
		h.mu.Unlock()
		return
	}
	err := fmt.Errorf("%s: %w", h.deadlineReasonLocked(w.on), wire.ErrUnavailable)
	h.mu.Unlock()
	go s.waited(w.ex, err)
}

// startGranted records running the first attempts that got a slot from
// the queue, in one commit, and sends them on the fast path once it is
// durable (dispatch).
func (s *Scheduler) startGranted(batch []slotGrant) {
	gate := s.newCommitGate()
	now := s.now()
	var recs []store.Execution
	starts := gate.start[:0]
	for _, g := range batch {
		ex := g.ex
		ex.mu.Lock()
		ex.abortCall = nil
		ex.mu.Unlock()
		ex.giveSlot(g.h, g.conn)
		g.h.place(&ex.rec, g.conn)
		ex.rec.Status = store.StatusRunning
		ex.rec.StartedAt = now
		ex.rec.Error = "" // the reason it was waiting
		recs = appendStart(recs, ex)
		starts = append(starts, ex)
	}
	gate.starts = starts
	gate.w = store.Writes{Executions: recs}
	s.db.CommitAsync(gate.w, gate.settle)
}

// waited continues on the goroutine path a first attempt that left the
// slot queue without a slot, for err (nil: cancelled or stopping).
func (s *Scheduler) waited(ex *execution, err error) {
	defer s.ended(ex)
	ctx := ex.context()
	s.drive(ctx, ex, func() (bool, bool) { return s.notAcquired(ctx, ex, err) })
}

// drainSlotQueues ends the wait of every first attempt in a slot queue
// when the scheduler stops: they stay recorded pending, to be dispatched
// after the restart.
func (s *Scheduler) drainSlotQueues() {
	var left []*execution
	s.reg.each(func(h *handlerState) {
		h.mu.Lock()
		for _, l := range []*list.List{&h.plain, &h.picky} {
			for el := l.Front(); el != nil; {
				w := el.Value.(*slotWait)
				el = el.Next()
				if w.ex != nil {
					h.dequeueLocked(w)
					w.timer.Stop()
					left = append(left, w.ex)
				}
			}
		}
		h.mu.Unlock()
	})
	if len(left) > 0 {
		go func() {
			for _, ex := range left {
				s.ended(ex)
			}
		}()
	}
}

// takeWhenReady takes a slot of the instance pick chooses (nil: any
// ready one matching on), waiting in h's queue while it chooses none,
// until ctx is done (then the error of gaveUp). pick and gaveUp run with
// h.mu held.
func (h *handlerState) takeWhenReady(ctx context.Context, on []string, pick func() *instance, gaveUp func() error) (Conn, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for {
		if h.rec.Status == handlerRemoved {
			return nil, fmt.Errorf("handler %q: %w", h.rec.ID, errHandlerRemoved)
		}
		w := &slotWait{pick: pick, on: on, ch: make(chan Conn, 1)}
		if h.queuedLocked() == 0 {
			if in := w.choose(h); in != nil {
				in.inFlight++
				return in.conn, nil
			}
		}
		h.enqueueLocked(w)
		h.serveLocked() // pick may fit a slot the waiters ahead do not
		h.mu.Unlock()
		var conn Conn
		granted := false
		select {
		case conn = <-w.ch:
			granted = true
		case <-ctx.Done():
		}
		h.mu.Lock()
		if !granted {
			if h.dequeueLocked(w) {
				return nil, gaveUp()
			}
			conn = <-w.ch // granted as ctx ended
		}
		if conn != nil {
			return conn, nil
		}
		// The handler was removed: the loop says so.
	}
}
