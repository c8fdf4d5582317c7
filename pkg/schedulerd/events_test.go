package schedulerd_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/client"
	"github.com/schedulezero/schedulezero/pkg/event"
	"github.com/schedulezero/schedulezero/pkg/scheduler/schedtype"
)

// subscriber records the sequence numbers one event stream delivered.
type subscriber struct {
	mu    sync.Mutex
	seqs  []uint64
	lost  uint64 // events announced lost
	live  bool
	holes int
}

func (s *subscriber) last() (uint64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.seqs) == 0 {
		return 0, s.live
	}
	return s.seqs[len(s.seqs)-1], s.live
}

// The engine fires 100 schedules every 100ms (1,000 fires a second, each
// an execution.started and an execution.finished) while 100 clients
// follow GET /api/v1/events over HTTP: each gets every event, in order,
// none announced lost, whether or not the hub had to drop and resume it.
// Under the race detector the clients cannot read that fast on two cores;
// the test then counts 300 fires instead of 1,000.
func TestEvents_HundredSubscribersAtAThousandFiresASecondLoseNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("a load test")
	}
	const subscribers, schedules = 100, 100
	fires := 1000
	if raceEnabled {
		fires = 300
	}
	dir := t.TempDir()
	opts := embedOptions(dir, "dingaling")
	opts.MinInterval = 10 * time.Millisecond
	d := startEmbedding(t, opts)
	hub := d.Engine().Events()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	addr := "unix:" + filepath.Join(dir, "api.sock")
	subs := make([]*subscriber, subscribers)
	var wg sync.WaitGroup
	sctx, stopSubs := context.WithCancel(ctx)
	defer stopSubs()
	for i := range subs {
		s := &subscriber{}
		subs[i] = s
		c, err := client.New(addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = c.Events(sctx, client.EventQuery{}, func(se client.StreamEvent) error {
				s.mu.Lock()
				defer s.mu.Unlock()
				switch {
				case se.Live:
					s.live = true
				case se.Lost != nil:
					s.lost += se.Lost.Missed + 1
				default:
					if n := len(s.seqs); n > 0 && se.Event.Seq != s.seqs[n-1]+1 {
						s.holes++
					}
					s.seqs = append(s.seqs, se.Event.Seq)
				}
				return nil
			})
		}()
	}
	defer wg.Wait()
	for _, s := range subs { // every stream open before the first event
		for _, live := s.last(); !live; _, live = s.last() {
			if ctx.Err() != nil {
				t.Fatal("the streams did not open")
			}
			time.Sleep(5 * time.Millisecond) // polling a condition with a deadline
		}
	}
	start := hub.Last()

	// Count the fires on the hub itself, as an observer would.
	counter := hub.Subscribe(1 << 16)
	defer counter.Close()
	began := time.Now()
	for i := range schedules {
		if _, err := d.Engine().AddSchedule(ctx, schedtype.ScheduleRequest{ID: fmt.Sprintf("load-%03d", i), HandlerID: "dingaling", Method: "quick_aling",
			Trigger: json.RawMessage(`{"type":"interval","seconds":0.1}`)}); err != nil {
			t.Fatal(err)
		}
	}
	finished := 0
	for finished < fires {
		select {
		case e, ok := <-counter.C:
			if !ok {
				t.Fatalf("the counting subscription was dropped: %v", counter.Err())
			}
			if e.Kind == event.ExecutionFinished {
				finished++
			}
		case <-ctx.Done():
			t.Fatalf("%d fires finished before the deadline, want %d", finished, fires)
		}
	}
	elapsed := time.Since(began)
	t.Logf("%d fires in %v", finished, elapsed.Round(time.Millisecond))
	for i := range schedules {
		if err := d.Engine().DeleteSchedule(ctx, fmt.Sprintf("load-%03d", i)); err != nil {
			t.Fatal(err)
		}
	}
	// Attempts still in flight finish after the deletes; wait for the
	// hub to go quiet, then for every stream to reach its last event.
	end := hub.Last()
	for {
		time.Sleep(200 * time.Millisecond) // polling a condition with a deadline
		if now := hub.Last(); now == end {
			break
		} else if ctx.Err() != nil {
			t.Fatal("the engine never went quiet")
		} else {
			end = now
		}
	}
	for i, s := range subs {
		for last, _ := s.last(); last < end; last, _ = s.last() {
			if ctx.Err() != nil {
				t.Fatalf("subscriber %d reached seq %d of %d", i, last, end)
			}
			time.Sleep(5 * time.Millisecond) // polling a condition with a deadline
		}
	}
	stopSubs()
	wg.Wait()
	for i, s := range subs {
		s.mu.Lock()
		if s.lost > 0 || s.holes > 0 || len(s.seqs) == 0 || s.seqs[0] != start+1 || uint64(len(s.seqs)) != end-start {
			t.Errorf("subscriber %d: %d events (want %d, seq %d to %d), %d holes, %d lost", i, len(s.seqs), end-start, start+1, end, s.holes, s.lost)
		}
		s.mu.Unlock()
	}
	t.Logf("%d fires in %v (%.0f/s), %d events to each of %d subscribers", finished, elapsed.Round(time.Millisecond),
		float64(finished)/elapsed.Seconds(), end-start, subscribers)
}
