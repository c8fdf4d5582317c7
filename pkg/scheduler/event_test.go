package scheduler_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/event"
	"github.com/schedulezero/schedulezero/pkg/handler"
	"github.com/schedulezero/schedulezero/pkg/scheduler"
	"github.com/schedulezero/schedulezero/pkg/scheduler/schedtype"
	"github.com/schedulezero/schedulezero/pkg/store"
	"github.com/schedulezero/schedulezero/pkg/store/storetest"
)

// recorder is an observer that keeps what it saw.
type recorder struct {
	mu  sync.Mutex
	evs []event.Event
}

func (r *recorder) observe(e event.Event) {
	r.mu.Lock()
	r.evs = append(r.evs, e)
	r.mu.Unlock()
}

func (r *recorder) all() []event.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]event.Event(nil), r.evs...)
}

func (r *recorder) has(kind event.Kind, match func(event.Event) bool) bool {
	for _, e := range r.all() {
		if e.Kind == kind && (match == nil || match(e)) {
			return true
		}
	}
	return false
}

// The engine tells what it did, once durable: the record an event names
// is in the store when the event is seen.
func TestEvents_EngineEmitsItsChanges(t *testing.T) {
	var rec recorder
	db := storetest.New(t)
	var notDurable atomic.Int64
	b := setup(t, scheduler.Options{Store: db, EventObservers: []event.Observer{rec.observe, func(e event.Event) {
		if e.Kind != event.ExecutionFinished {
			return
		}
		// A read transaction in the observer: the record is already in
		// the store when its event is published.
		recs, err := db.ListExecutions(context.Background(), store.ExecutionFilter{ScheduleID: e.ScheduleID})
		for _, r := range recs {
			if err == nil && r.ID == e.ExecutionID && r.Attempt == e.Attempt && r.Status == store.Status(e.Status) {
				return
			}
		}
		notDurable.Add(1)
	}}})
	sub := b.engine.Events().Subscribe(1000)
	defer sub.Close()

	var calls atomic.Int64
	mux := okMux(&calls)
	mux.HandleFunc("fail", func(context.Context, *handler.Job) (any, error) {
		return nil, handler.Permanent(errors.New("boom"))
	})
	b.serveHandler(t, "h1", 4, mux)
	await(t, "handler online event", func() bool { return rec.has(event.HandlerOnline, nil) })

	ctx := context.Background()
	if _, err := b.engine.AddSchedule(ctx, schedtype.ScheduleRequest{
		ID: "tick", HandlerID: "h1", Method: "work",
		Trigger: json.RawMessage(`{"type":"interval","seconds":0.05}`),
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.engine.AddSchedule(ctx, schedtype.ScheduleRequest{
		ID: "bad", HandlerID: "h1", Method: "fail", MaxAttempts: 1,
		Trigger: json.RawMessage(`{"type":"date","run_date":"` + time.Now().UTC().Format(time.RFC3339Nano) + `"}`),
	}); err != nil {
		t.Fatal(err)
	}
	await(t, "a succeeded tick", func() bool {
		return rec.has(event.ExecutionFinished, func(e event.Event) bool {
			return e.ScheduleID == "tick" && e.Status == string(store.StatusSucceeded) && e.ExecutionID != ""
		})
	})
	await(t, "the failure with its reason", func() bool {
		return rec.has(event.ExecutionFinished, func(e event.Event) bool {
			return e.ScheduleID == "bad" && e.Status == string(store.StatusFailed) && e.Reason != ""
		})
	})
	for _, step := range []struct {
		kind event.Kind
		do   func() error
	}{
		{event.SchedulePaused, func() error { _, err := b.engine.PauseSchedule(ctx, "tick"); return err }},
		{event.ScheduleResumed, func() error { _, err := b.engine.ResumeSchedule(ctx, "tick"); return err }},
		{event.ScheduleChanged, func() error {
			m := "work"
			_, err := b.engine.UpdateSchedule(ctx, "tick", schedtype.ScheduleUpdate{Method: &m})
			return err
		}},
		{event.ScheduleDeleted, func() error { return b.engine.DeleteSchedule(ctx, "tick") }},
		{event.HandlerRemoved, func() error { return b.engine.RemoveHandler(ctx, "h1") }},
	} {
		if err := step.do(); err != nil {
			t.Fatalf("%s: %v", step.kind, err)
		}
		// Synchronous: the event is out when the call returns.
		if !rec.has(step.kind, nil) {
			t.Fatalf("no %s event after the call returned", step.kind)
		}
	}
	if !rec.has(event.ScheduleCreated, func(e event.Event) bool { return e.ScheduleID == "tick" }) {
		t.Fatal("no schedule.created event")
	}

	// Every attempt started before it finished, and the subscription saw
	// what the observer saw, in the same order.
	started := map[string]bool{}
	evs := rec.all()
	for i, e := range evs {
		if e.Seq != uint64(i+1) {
			t.Fatalf("event %d has seq %d", i, e.Seq)
		}
		key := fmt.Sprintf("%s/%d", e.ExecutionID, e.Attempt)
		switch e.Kind {
		case event.ExecutionStarted:
			started[key] = true
		case event.ExecutionFinished:
			if !started[key] {
				t.Fatalf("attempt %s finished (%s) before it started", key, e.Status)
			}
		}
	}
	for i := range evs {
		select {
		case e := <-sub.C:
			if e.Seq != evs[i].Seq || e.Kind != evs[i].Kind {
				t.Fatalf("subscription event %d = %d %s, observer saw %d %s", i, e.Seq, e.Kind, evs[i].Seq, evs[i].Kind)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("subscription ended at %d of %d events (err %v)", i, len(evs), sub.Err())
		}
	}
	if n := notDurable.Load(); n > 0 {
		t.Fatalf("%d finished events named a record not yet in the store", n)
	}
}
