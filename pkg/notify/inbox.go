package notify

import (
	"sync"

	"github.com/schedulezero/schedulezero/pkg/event"
)

// inbox is the events waiting for the notifier's goroutine: a queue that
// holds what is pending, at most max, instead of a channel of max slots.
// A channel's buffer is allocated whole and its slots are used in turn, so
// a steady stream (every final attempt at a thousand a second) keeps all
// 4096 slots of about 250 bytes resident however short the backlog; this
// queue's memory is that of the longest backlog.
type inbox struct {
	mu    sync.Mutex
	q     []event.Event
	max   int
	ready chan struct{} // holds a token while q may be non-empty
}

func newInbox(max int) *inbox {
	return &inbox{max: max, ready: make(chan struct{}, 1)}
}

// put queues e, or reports false when max events are pending. It never
// blocks on the consumer.
func (b *inbox) put(e event.Event) bool {
	b.mu.Lock()
	if len(b.q) >= b.max {
		b.mu.Unlock()
		return false
	}
	b.q = append(b.q, e)
	b.mu.Unlock()
	select {
	case b.ready <- struct{}{}:
	default:
	}
	return true
}

// take returns every pending event, in order, and leaves the queue empty
// with spare's array (the batch the caller is done with) for the next
// ones, so that two arrays serve the whole stream.
func (b *inbox) take(spare []event.Event) []event.Event {
	clear(spare) // the strings of handled events are garbage now
	b.mu.Lock()
	batch := b.q
	b.q = spare[:0]
	b.mu.Unlock()
	return batch
}
