package event_test

import (
	"errors"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/schedulezero/schedulezero/pkg/event"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func publish(h *event.Hub, n int) {
	for range n {
		h.Publish(event.Event{Kind: event.ExecutionStarted})
	}
}

// drain reads what sub holds now, without waiting.
func drain(sub *event.Subscription) []uint64 {
	var seqs []uint64
	for {
		select {
		case e, ok := <-sub.C:
			if !ok {
				return seqs
			}
			seqs = append(seqs, e.Seq)
		default:
			return seqs
		}
	}
}

func TestHub_ObserversSeeEveryEventInOrder(t *testing.T) {
	var got []uint64
	h := event.NewHub(4, func(e event.Event) { got = append(got, e.Seq) })
	publish(h, 10)
	if len(got) != 10 {
		t.Fatalf("observer saw %d events, want 10", len(got))
	}
	for i, q := range got {
		if q != uint64(i+1) {
			t.Fatalf("event %d has seq %d, want %d", i, q, i+1)
		}
	}
	if h.Last() != 10 {
		t.Fatalf("Last = %d, want 10", h.Last())
	}
}

func TestHub_SubscribeAfter(t *testing.T) {
	tests := []struct {
		name      string
		ring      int
		published int
		after     uint64
		wantFirst uint64
		wantN     int
		wantGap   uint64
	}{
		{"nothing yet", 8, 0, 0, 0, 0, 0},
		{"all retained", 8, 5, 0, 1, 5, 0},
		{"resume mid-ring", 8, 5, 3, 4, 2, 0},
		{"up to date", 8, 5, 5, 0, 0, 0},
		{"older than the ring", 4, 10, 2, 7, 4, 4},
		{"just at the ring's edge", 4, 10, 6, 7, 4, 0},
		{"position of another hub", 8, 5, 99, 1, 5, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := event.NewHub(tt.ring)
			publish(h, tt.published)
			sub := h.SubscribeAfter(tt.after, 1)
			defer sub.Close()
			got := drain(sub)
			if len(got) != tt.wantN {
				t.Fatalf("replayed %v, want %d events", got, tt.wantN)
			}
			if tt.wantN > 0 && got[0] != tt.wantFirst {
				t.Fatalf("first replayed seq %d, want %d", got[0], tt.wantFirst)
			}
			if sub.Gap() != tt.wantGap {
				t.Fatalf("Gap = %d, want %d", sub.Gap(), tt.wantGap)
			}
			// The replay does not use up the live buffer.
			publish(h, 1)
			if live := drain(sub); len(live) != 1 || live[0] != uint64(tt.published+1) {
				t.Fatalf("live events %v, want [%d]", live, tt.published+1)
			}
		})
	}
}

func TestHub_SlowSubscriberIsDroppedAndResumes(t *testing.T) {
	h := event.NewHub(16)
	fast := h.Subscribe(100)
	defer fast.Close()
	slow := h.Subscribe(2)
	publish(h, 5) // the third overflows slow
	got := drain(slow)
	if len(got) != 2 {
		t.Fatalf("slow got %v before it was dropped, want 2 events", got)
	}
	if _, open := <-slow.C; open {
		t.Fatal("slow subscription's channel still open")
	}
	if !errors.Is(slow.Err(), event.ErrLost) {
		t.Fatalf("Err = %v, want ErrLost", slow.Err())
	}
	if n := len(drain(fast)); n != 5 {
		t.Fatalf("fast subscriber got %d events, want 5", n)
	}
	again := h.SubscribeAfter(got[len(got)-1], 2)
	defer again.Close()
	if rest := drain(again); len(rest) != 3 || rest[0] != 3 || again.Gap() != 0 {
		t.Fatalf("resumed with %v (gap %d), want [3 4 5] and no gap", rest, again.Gap())
	}
	if h.Subscribers() != 2 {
		t.Fatalf("%d subscribers, want 2", h.Subscribers())
	}
}

func TestHub_CloseIsIdempotent(t *testing.T) {
	h := event.NewHub(4)
	sub := h.Subscribe(1)
	sub.Close()
	sub.Close()
	publish(h, 3)
	if sub.Err() != nil {
		t.Fatalf("Err after Close = %v, want nil", sub.Err())
	}
	if h.Subscribers() != 0 {
		t.Fatalf("%d subscribers after Close", h.Subscribers())
	}
}

func TestHub_NilDropsEvents(t *testing.T) {
	var h *event.Hub
	h.Publish(event.Event{Kind: event.HandlerOnline}) // must not panic
}

// Concurrent publishers and subscribers that keep up: each sees every
// event once, in order, without holes.
func TestHub_ConcurrentSubscribersSeeEverything(t *testing.T) {
	const publishers, each, subscribers = 4, 500, 8
	h := event.NewHub(64)
	var wg sync.WaitGroup
	subs := make([]*event.Subscription, subscribers)
	errs := make(chan error, subscribers)
	for i := range subs {
		subs[i] = h.Subscribe(publishers * each)
		wg.Add(1)
		go func(sub *event.Subscription) {
			defer wg.Done()
			var last uint64
			for e := range sub.C {
				if e.Seq != last+1 {
					errs <- errors.New("hole or reorder in the stream")
					return
				}
				last = e.Seq
				if last == publishers*each {
					errs <- nil
					return
				}
			}
			errs <- sub.Err()
		}(subs[i])
	}
	var pub sync.WaitGroup
	for range publishers {
		pub.Add(1)
		go func() { defer pub.Done(); publish(h, each) }()
	}
	pub.Wait()
	for range subscribers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	for _, s := range subs {
		s.Close()
	}
}
