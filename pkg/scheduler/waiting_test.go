package scheduler_test

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/schedulezero/schedulezero/pkg/scheduler/schedtype"
	"github.com/schedulezero/schedulezero/pkg/store"
	"github.com/schedulezero/schedulezero/pkg/wire"
)

// busySim is a sim with a second handler, "one", of a single slot, which
// a first schedule's job holds for hold; the schedules added with wait
// fire behind it, a second apart, in the order added.
func busySim(t *testing.T, hold time.Duration) *sim {
	s := newSim(t, &fakeHandler{fn: sleepFor(hold)})
	if _, err := s.eng.Registry().Register(context.Background(), wire.Registration{
		HandlerID: "one", Address: "mem://one", Methods: []string{"work"}, Protocol: 2, Concurrency: 1,
	}); err != nil {
		t.Fatal(err)
	}
	s.add(schedtype.ScheduleRequest{ID: "holder", HandlerID: "one", Method: "work", MaxAttempts: 1, Trigger: dateIn(time.Second)})
	s.advance(2 * time.Second)
	return s
}

// wait adds n schedules on "one", each firing once, a second apart.
func (s *sim) wait(n int, timeout time.Duration, pol store.Policy) {
	for i := range n {
		req := schedtype.ScheduleRequest{ID: fmt.Sprintf("w%03d", i), HandlerID: "one", Method: "work",
			MaxAttempts: 1, Timeout: timeout, Policy: pol, Trigger: dateIn(time.Duration(i+1) * time.Second)}
		if pol.Overlap == store.OverlapReplace {
			req.Trigger = json.RawMessage(`{"type":"interval","seconds":60}`)
		}
		s.add(req)
	}
	s.advance(time.Duration(n+1) * time.Second)
}

// First attempts that fire while their handler is at its limit wait
// without a goroutine each, and get its slot in the order they fired:
// 200 of them behind one job add fewer than 20 goroutines (a goroutine
// each before), and then run one after another, oldest first.
func TestWaiting_FirstAttemptsQueueWithoutGoroutinesAndRunInOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := busySim(t, time.Minute)
		g0 := runtime.NumGoroutine()
		const n = 200
		s.wait(n, 24*time.Hour, store.Policy{})
		if g := runtime.NumGoroutine() - g0; g >= 20 {
			t.Errorf("%d first attempts waiting for a slot added %d goroutines, want fewer than 20", n, g)
		}
		s.h.mu.Lock()
		s.h.fn = nil // the holder's job ends at its minute; the rest are quick
		s.h.mu.Unlock()
		s.advance(2 * time.Minute)
		s.settle()
		s.h.mu.Lock()
		defer s.h.mu.Unlock()
		var order []string
		for _, c := range s.h.calls {
			if strings.HasPrefix(c.ScheduleID, "w") {
				order = append(order, c.ScheduleID)
			}
		}
		if len(order) != n {
			t.Fatalf("%d of the %d waiting attempts were sent", len(order), n)
		}
		for i, id := range order {
			if want := fmt.Sprintf("w%03d", i); id != want {
				t.Fatalf("call %d went to %s, want %s: the slot goes to the oldest waiter", i, id, want)
			}
		}
		for i := range n {
			if h := s.history(fmt.Sprintf("w%03d", i)); len(h) != 1 || h[0].Status != store.StatusSucceeded {
				t.Fatalf("w%03d: %+v, want one succeeded attempt", i, h)
			}
		}
	})
}

// A first attempt that waits in the queue ends as its goroutine did:
// failed at its deadline, saying the handler stayed at its limit;
// cancelled when a newer fire replaces it; failed, not retried, when its
// handler is removed; and left pending by a stop, to run after the
// restart.
func TestWaiting_QueuedFirstAttemptEnds(t *testing.T) {
	tests := []struct {
		name   string
		pol    store.Policy
		act    func(*sim)
		status store.Status
		reason string
	}{
		{"at its deadline", store.Policy{}, func(s *sim) { s.advance(100 * time.Second) },
			store.StatusFailed, "stayed at its concurrency limit until the deadline"},
		{"replaced", store.Policy{Overlap: store.OverlapReplace}, func(s *sim) {
			// w000's second fire, a minute after the first.
			s.advance(time.Minute)
		}, store.StatusCancelled, "replaced by a newer fire"},
		{"its handler removed", store.Policy{}, func(s *sim) {
			if err := s.eng.RemoveHandler(context.Background(), "one"); err != nil {
				s.t.Fatal(err)
			}
			s.settle()
		}, store.StatusFailed, "not sent, and not retried"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := busySim(t, time.Hour)
				s.wait(1, 90*time.Second, tt.pol)
				tt.act(s)
				h := s.history("w000")
				if len(h) == 0 || h[0].Status != tt.status || !strings.Contains(h[0].Error, tt.reason) {
					t.Fatalf("the waiting attempt: %+v, want %s saying %q", h, tt.status, tt.reason)
				}
			})
		})
	}
	t.Run("the scheduler stops", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			s := busySim(t, time.Hour)
			s.wait(3, time.Hour, store.Policy{})
			s.stop()
			for i := range 3 {
				if h := s.history(fmt.Sprintf("w%03d", i)); len(h) != 1 || h[0].Status != store.StatusPending {
					t.Fatalf("w%03d after the stop: %+v, want one pending attempt", i, h)
				}
			}
			s.h.mu.Lock()
			s.h.fn = nil
			s.h.mu.Unlock()
			s.start()
			if _, err := s.eng.Registry().Register(context.Background(), wire.Registration{
				HandlerID: "one", Address: "mem://one", Methods: []string{"work"}, Protocol: 2, Concurrency: 4,
			}); err != nil {
				t.Fatal(err)
			}
			s.advance(time.Minute)
			s.settle()
			for i := range 3 {
				if h := s.history(fmt.Sprintf("w%03d", i)); len(h) != 1 || h[0].Status != store.StatusSucceeded {
					t.Fatalf("w%03d after the restart: %+v, want one succeeded attempt", i, h)
				}
			}
		})
	})
}
