package scheduler

import (
	"container/list"
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/schedulezero/schedulezero/pkg/handlername"
	"github.com/schedulezero/schedulezero/pkg/store"
	"github.com/schedulezero/schedulezero/pkg/wire"
)

// Handler states, as the store keeps them and every edge shows them. A removed handler (schedulezero
// handlers remove) is kept in the store with its state, so that its
// schedules can say so after a restart; it is not listed.
const (
	handlerOnline  = "online"
	handlerOffline = "offline"
	handlerRemoved = "removed"
)

// ewmaWeight is the weight of the newest sample in the latency and error
// EWMAs: about the last 20 calls dominate.
const ewmaWeight = 0.05

// handlerState is the engine's live view of one handler name: the
// instances (processes) serving it, each with its own connection,
// concurrency limit and health. Its slots gate dispatch: an attempt takes
// a slot of one ready instance, the one with the fewest calls in flight,
// and waits while none has one. The slot belongs to the connection it
// came with (each instance's connection knows its instance), so release
// and failover are told the connection.
type handlerState struct {
	mu      sync.Mutex
	rec     store.Handler // the name's record: the latest registration, the status of the pool
	insts   []*instance
	next    int           // where the next pick starts, so that ties take turns
	waiters int           // callers of watch
	changed chan struct{} // closed and replaced on every change a watcher cares about
	// The attempts waiting for a slot, each list oldest first
	// (slotwait.go): plain ones, which any instance's slot fits, and
	// picky ones (labels, an instance of their own).
	plain, picky list.List // *slotWait
	seq          uint64    // the order of the last waiter queued
}

func newHandlerState(rec store.Handler) *handlerState {
	return &handlerState{rec: rec, changed: make(chan struct{})}
}

// broadcast tells every watcher of a change, and hands the slots it may
// have freed to the queue; the caller holds h.mu.
func (h *handlerState) broadcast() {
	if h.waiters > 0 {
		close(h.changed)
		h.changed = make(chan struct{})
	}
	h.serveLocked()
}

// pickLocked returns the ready instance matching on with a free slot and
// the fewest calls in flight, skipping except; nil when none has one. It
// looks at each instance once. The caller holds h.mu.
func (h *handlerState) pickLocked(on []string, except *instance) *instance {
	n := len(h.insts)
	if n == 1 { // the common case: no turn to take
		if in := h.insts[0]; in != except && in.inFlight < in.limit && in.ready(time.Now, on) {
			return in
		}
		return nil
	}
	var now time.Time
	clock := func() time.Time {
		if now.IsZero() {
			now = time.Now()
		}
		return now
	}
	var best *instance
	start := h.next
	for i := range n {
		in := h.insts[(start+i)%n]
		if in == except || in.inFlight >= in.limit || (best != nil && in.inFlight >= best.inFlight) || !in.ready(clock, on) {
			continue
		}
		best = in
	}
	if best != nil {
		h.next = (start + 1) % n
	}
	return best
}

// owner is the instance whose slot a call on conn holds: the instance the
// connection was opened for.
func owner(conn Conn) *instance {
	if dc, ok := conn.(*drainConn); ok {
		return dc.inst
	}
	return nil
}

// acquire waits until an instance matching on (KEY=VALUE labels, all of
// them) is ready with a free slot, takes it and returns the connection to
// use. It gives up when ctx is done, saying why.
func (h *handlerState) acquire(ctx context.Context, on []string) (Conn, error) {
	return h.takeWhenReady(ctx, on, nil, func() error {
		return fmt.Errorf("%s: %w", h.deadlineReasonLocked(on), wire.ErrUnavailable)
	})
}

// deadlineReasonLocked says why acquire gave up; the caller holds h.mu.
func (h *handlerState) deadlineReasonLocked(on []string) string {
	id := h.rec.ID
	switch why := h.reasonLocked(on); {
	case h.rec.Address == "":
		return fmt.Sprintf("handler %q has not registered before the deadline", id)
	case h.rec.Status != handlerOnline:
		return fmt.Sprintf("handler %q is %s and did not come back before the deadline", id, h.rec.Status)
	case strings.HasPrefix(why, "waiting for a free slot"):
		return fmt.Sprintf("handler %q stayed at its concurrency limit until the deadline", id)
	default:
		return strings.TrimPrefix(why, "waiting for ") + ", until the deadline"
	}
}

// waitReason says why an attempt for h (with constraint on) cannot be
// sent now: it is not online, never registered, no instance matches, or
// every one is silent or at its limit; "" when one has a free slot.
func (h *handlerState) waitReason(on []string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.pickLocked(on, nil) != nil {
		return ""
	}
	return h.reasonLocked(on)
}

// reasonLocked is waitReason's answer when no instance was picked.
func (h *handlerState) reasonLocked(on []string) string {
	id := h.rec.ID
	switch {
	case h.rec.Address == "":
		return fmt.Sprintf("waiting for handler %q, which has not registered", id)
	case h.rec.Status == handlerRemoved:
		return fmt.Sprintf("handler %q was removed", id)
	case h.rec.Status != handlerOnline:
		since := ""
		if !h.rec.LastSeen.IsZero() {
			since = " since " + h.rec.LastSeen.UTC().Format(time.RFC3339)
		}
		return fmt.Sprintf("waiting for handler %q (%s%s)", id, h.rec.Status, since)
	}
	now := time.Now()
	var online, matching, silent, connected, running, limit int
	for _, in := range h.insts {
		if in.status != handlerOnline {
			continue
		}
		online++
		if len(on) > 0 && !handlername.Match(in.labels, on) {
			continue
		}
		matching++
		if !in.healthy(now) || in.unreachable {
			silent++
			continue
		}
		if in.conn != nil {
			connected++
			running += in.inFlight
			limit += in.limit
		}
	}
	switch {
	case matching == 0 && len(on) > 0:
		return fmt.Sprintf("waiting for an instance of handler %q on %s (none of its %d online instances has those labels)", id, strings.Join(on, ","), online)
	case silent == matching:
		return fmt.Sprintf("waiting for handler %q: no heartbeat from its instances within their health window", id)
	case connected == 0:
		return fmt.Sprintf("waiting for handler %q to be reachable", id)
	case len(h.insts) > 1:
		return fmt.Sprintf("waiting for a free slot of handler %q (%d running, the limit of its ready instances)", id, running)
	}
	return fmt.Sprintf("waiting for a free slot of handler %q (%d running, its limit)", id, running)
}

// removed reports whether the handler was removed.
func (h *handlerState) removed() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.rec.Status == handlerRemoved
}

// current returns the connection of old's instance now (a newer one when
// it registered again since old was taken), or old if it has none, and
// whether that instance is online. The slot stays where it is: this is
// for talking to the process that has the call (a cancel, a question).
func (h *handlerState) current(old Conn) (Conn, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	in := owner(old)
	if in == nil || !h.holds(in) {
		return old, h.rec.Status == handlerOnline
	}
	if in.conn != nil {
		return in.conn, in.status == handlerOnline
	}
	return old, in.status == handlerOnline
}

// holds reports whether in is still one of h's instances; the caller
// holds h.mu.
func (h *handlerState) holds(in *instance) bool {
	for _, x := range h.insts {
		if x == in {
			return true
		}
	}
	return false
}

// failover returns where a request that failed unsent on old goes next,
// and whether to send it now: old's instance's newer connection when it
// registered again; else another ready instance matching on with a free
// slot, to which the caller's slot moves (old's instance is then skipped
// until it is heard from: it is dead, frozen or closing); else old, and
// whether its instance is online (to try again after a pause).
func (h *handlerState) failover(old Conn, on []string) (Conn, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	in := owner(old)
	held := in != nil && h.holds(in)
	if held && in.conn != nil && in.conn != old && in.status == handlerOnline {
		return in.conn, true
	}
	if to := h.pickLocked(on, in); to != nil && in != nil {
		in.inFlight--
		if held {
			in.unreachable = true
		}
		to.inFlight++
		h.broadcast()
		return to.conn, true
	}
	if held {
		return old, in.status == handlerOnline
	}
	return old, h.rec.Status == handlerOnline
}

// watch returns a channel that is closed at h's next change (a
// registration, a status report); the caller calls stop when it no longer
// waits on it.
func (h *handlerState) watch() (changed <-chan struct{}, stop func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.waiters++
	return h.changed, func() {
		h.mu.Lock()
		h.waiters--
		h.mu.Unlock()
	}
}

// tryAcquire takes a slot of a ready instance matching on, if one is free.
func (h *handlerState) tryAcquire(on []string) Conn {
	h.mu.Lock()
	defer h.mu.Unlock()
	if in := h.pickLocked(on, nil); in != nil {
		in.inFlight++
		return in.conn
	}
	return nil
}

// release frees the slot a call on conn held and records the call's
// outcome for the health of its instance.
func (h *handlerState) release(conn Conn, d time.Duration, failed bool) {
	h.mu.Lock()
	if in := owner(conn); in != nil {
		in.inFlight--
		in.record(d, failed)
	}
	h.broadcast()
	h.mu.Unlock()
}

// registered reports whether the handler has an address: it is not a
// placeholder that attempts wait on. h.rec is guarded by h.mu, not r.mu.
func (h *handlerState) registered() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.rec.Address != ""
}

// settleLocked sets the name's status from its instances': online while
// one is, else status (the last one's report). The caller holds h.mu.
func (h *handlerState) settleLocked(status string) {
	for _, in := range h.insts {
		if in.status == handlerOnline {
			h.rec.Status = handlerOnline
			return
		}
	}
	h.rec.Status = status
}
