package scheduler_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/schedulezero/schedulezero/pkg/scheduler"
	"github.com/schedulezero/schedulezero/pkg/scheduler/schedtype"
	"github.com/schedulezero/schedulezero/pkg/store"
	"github.com/schedulezero/schedulezero/pkg/store/storetest"
)

func TestScheduler_HealthAndSummary(t *testing.T) {
	b := setup(t, scheduler.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := b.engine.Health(ctx); err != nil {
		t.Fatalf("healthy engine: %v", err)
	}
	if s := b.engine.Summary(); s == "" {
		t.Fatal("empty summary")
	}
	b.engine.Stall()
	ctx2, cancel2 := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel2()
	if err := b.engine.Health(ctx2); err == nil {
		t.Fatal("a stalled engine reports healthy")
	}
}

// Stop does not spend its budget on an attempt still waiting for its
// handler: the attempt stays pending and runs after the restart.
func TestScheduler_StopLeavesWaitingAttemptPending(t *testing.T) {
	db := storetest.New(t)
	b := setup(t, scheduler.Options{Store: db})
	var calls atomic.Int64
	b.serveHandler(t, "absent", 1, okMux(&calls))
	if err := b.engine.Registry().ReportStatus(context.Background(), "absent", "offline"); err != nil {
		t.Fatal(err)
	}
	_, err := b.engine.AddSchedule(context.Background(), schedtype.ScheduleRequest{
		ID: "waits", HandlerID: "absent", Method: "work", Timeout: time.Hour,
		Trigger: json.RawMessage(`{"type":"date","run_date":"` + time.Now().UTC().Format(time.RFC3339) + `"}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	await(t, "a pending attempt", func() bool {
		return countStatus(b.executions(t, store.ExecutionFilter{ScheduleID: "waits"}), store.StatusPending) == 1
	})
	stopped := make(chan struct{})
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = b.engine.Stop(ctx)
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("Stop waited for an attempt that was never sent")
	}
	u, err := db.Unfinished(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(u) != 1 || u[0].Status != store.StatusPending || u[0].Attempt != 1 {
		t.Fatalf("unfinished after stop: %+v; want the one attempt, pending", u)
	}
}

// Fires due closer together than the fire quantum share the timer loop's
// turns, none later than the quantum: 400 schedules whose fires are 10 µs
// apart (4 ms in all) are fired in a handful of turns, where a turn per
// fire cost a wake-up each; a fire alone is fired when it is due.
func TestLoop_DenseFiresShareTurnsAtMostAQuantumLate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSim(t, &fakeHandler{})
		const n = 400
		for i := range n {
			s.add(schedtype.ScheduleRequest{ID: fmt.Sprintf("d%03d", i), MaxAttempts: 1,
				Trigger: dateIn(time.Minute + time.Duration(i)*10*time.Microsecond)})
		}
		s.advance(2 * time.Minute)
		turns := map[time.Time]bool{}
		for i := range n {
			h := s.history(fmt.Sprintf("d%03d", i))
			if len(h) == 0 {
				t.Fatalf("d%03d did not fire", i)
			}
			late := h[0].StartedAt.Sub(h[0].ScheduledAt)
			if late < 0 || late > scheduler.FireQuantum {
				t.Fatalf("d%03d fired %v after its time, want 0 to %v", i, late, scheduler.FireQuantum)
			}
			turns[h[0].StartedAt] = true
		}
		// 4 ms of fires at most a quantum apart: 4 ms / 250 µs, and the first.
		if want := int(4*time.Millisecond/scheduler.FireQuantum) + 2; len(turns) > want {
			t.Errorf("%d fires 10 µs apart took %d turns of the loop, want at most %d", n, len(turns), want)
		}
		s.add(schedtype.ScheduleRequest{ID: "alone", MaxAttempts: 1, Trigger: dateIn(time.Minute)})
		s.advance(2 * time.Minute)
		if h := s.history("alone"); len(h) == 0 || !h[0].StartedAt.Equal(h[0].ScheduledAt) {
			t.Errorf("a fire alone: %+v, want it started when due", h)
		}
	})
}
