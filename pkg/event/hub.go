package event

import (
	"sync"
	"time"
)

// Defaults for NewHub and Subscribe arguments left zero.
const (
	DefaultRing   = 4096 // events the hub keeps for replay
	DefaultBuffer = 256  // a subscription's channel
)

// Hub sequences events, calls the observers, keeps the most recent ones in
// a ring and fans them out to subscriptions without ever waiting. The zero
// value is not usable; create it with NewHub.
type Hub struct {
	observers []Observer
	epoch     int64
	nowFunc   func() time.Time

	mu   sync.Mutex
	seq  uint64  // the last sequence number given
	ring []Event // ring[(q-1)%len(ring)] holds the event of sequence q
	subs map[*Subscription]struct{}
}

// NewHub returns a hub keeping the last ring events (DefaultRing when
// ring <= 0) and calling observers for each event, in order.
func NewHub(ring int, observers ...Observer) *Hub {
	if ring <= 0 {
		ring = DefaultRing
	}
	return &Hub{
		observers: observers,
		epoch:     time.Now().UnixNano(),
		nowFunc:   time.Now,
		ring:      make([]Event, ring),
		subs:      make(map[*Subscription]struct{}),
	}
}

// Epoch identifies this hub among the hubs of successive processes.
func (h *Hub) Epoch() int64 { return h.epoch }

// Last returns the sequence number of the newest event, 0 before any.
func (h *Hub) Last() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.seq
}

// Publish gives e the next sequence number (and the time, when zero),
// calls the observers, stores it in the ring and offers it to every
// subscription. It never blocks on a consumer. A nil hub drops e, so that
// an engine built without one need not check.
func (h *Hub) Publish(e Event) {
	if h == nil {
		return
	}
	if e.Time.IsZero() {
		e.Time = h.nowFunc()
	}
	// The lock is held across the observers so that they see events in
	// sequence order; they are cheap by contract.
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seq++
	e.Seq = h.seq
	for _, o := range h.observers {
		o(e)
	}
	h.ring[(e.Seq-1)%uint64(len(h.ring))] = e
	for s := range h.subs {
		select {
		case s.c <- e:
		default:
			h.dropLocked(s, ErrLost)
		}
	}
}

// oldestLocked is the sequence number of the oldest event in the ring.
func (h *Hub) oldestLocked() uint64 {
	if h.seq <= uint64(len(h.ring)) {
		return 1
	}
	return h.seq - uint64(len(h.ring)) + 1
}

// Subscribe returns a subscription to the events published from now on,
// with a channel of buffer events (DefaultBuffer when buffer <= 0).
func (h *Hub) Subscribe(buffer int) *Subscription {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.subscribeLocked(h.seq, buffer)
}

// SubscribeAfter returns a subscription to the events after sequence
// number after: first those the ring still holds, then new ones. The
// subscription's Gap counts those the ring no longer holds. An after
// beyond the newest event (a position from another hub) is treated as 0.
func (h *Hub) SubscribeAfter(after uint64, buffer int) *Subscription {
	h.mu.Lock()
	defer h.mu.Unlock()
	if after > h.seq {
		after = 0
	}
	return h.subscribeLocked(after, buffer)
}

func (h *Hub) subscribeLocked(after uint64, buffer int) *Subscription {
	if buffer <= 0 {
		buffer = DefaultBuffer
	}
	from := after + 1
	var gap uint64
	if oldest := h.oldestLocked(); from < oldest && h.seq > 0 {
		gap = oldest - from
		from = oldest
	}
	replay := int(h.seq + 1 - from)
	c := make(chan Event, replay+buffer)
	for q := from; q <= h.seq; q++ {
		c <- h.ring[(q-1)%uint64(len(h.ring))]
	}
	s := &Subscription{C: c, c: c, hub: h, gap: gap}
	h.subs[s] = struct{}{}
	return s
}

func (h *Hub) dropLocked(s *Subscription, err error) {
	if _, ok := h.subs[s]; !ok {
		return
	}
	delete(h.subs, s)
	s.err = err
	close(s.c)
}

// Subscribers returns how many subscriptions are open.
func (h *Hub) Subscribers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

// Subscription receives events on C until it is closed: by Close, or by the
// hub when the subscriber fell behind (Err is then ErrLost).
type Subscription struct {
	// C delivers the events in sequence order, without holes, until it is
	// closed.
	C <-chan Event

	c   chan Event
	hub *Hub
	gap uint64
	err error // under hub.mu
}

// Gap is how many events before the first one delivered the ring no longer
// held when the subscription began (0: none lost).
func (s *Subscription) Gap() uint64 { return s.gap }

// Err is ErrLost once the hub dropped the subscription because it fell
// behind, nil otherwise. Read it after C is closed.
func (s *Subscription) Err() error {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	return s.err
}

// Close ends the subscription and closes C. It is idempotent.
func (s *Subscription) Close() {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	s.hub.dropLocked(s, nil)
}
