package scheduler_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/field"
	"github.com/schedulezero/schedulezero/pkg/scheduler"
	"github.com/schedulezero/schedulezero/pkg/scheduler/schedtype"
	"github.com/schedulezero/schedulezero/pkg/store"
)

func TestScheduler_AddScheduleRejectsBadInput(t *testing.T) {
	b := setup(t, scheduler.Options{})
	var calls atomic.Int64
	b.serveHandler(t, "h1", 1, okMux(&calls))
	good := schedtype.ScheduleRequest{HandlerID: "h1", Method: "work", Trigger: json.RawMessage(`{"type":"interval","seconds":5}`)}
	tests := []struct {
		name  string
		edit  func(*schedtype.ScheduleRequest)
		field string
		is    error
	}{
		{"no handler", func(r *schedtype.ScheduleRequest) { r.HandlerID = "" }, "handler_id", nil},
		{"unknown handler", func(r *schedtype.ScheduleRequest) { r.HandlerID = "nope" }, "", store.ErrNotFound},
		{"no method", func(r *schedtype.ScheduleRequest) { r.Method = "" }, "job_method", nil},
		{"method the handler lacks", func(r *schedtype.ScheduleRequest) { r.Method = "fly" }, "job_method", nil},
		{"params not an object", func(r *schedtype.ScheduleRequest) { r.Params = json.RawMessage(`[1]`) }, "job_params", nil},
		{"no trigger", func(r *schedtype.ScheduleRequest) { r.Trigger = nil }, "trigger", nil},
		{"unknown trigger type", func(r *schedtype.ScheduleRequest) { r.Trigger = json.RawMessage(`{"type":"sometimes"}`) }, "trigger.type", nil},
		{"zero interval", func(r *schedtype.ScheduleRequest) { r.Trigger = json.RawMessage(`{"type":"interval"}`) }, "trigger", nil},
		{"bad cron", func(r *schedtype.ScheduleRequest) { r.Trigger = json.RawMessage(`{"type":"cron","expr":"61 * * * *"}`) }, "trigger.expr", nil},
		{"bad zone", func(r *schedtype.ScheduleRequest) { r.Timezone = "Mars/Olympus" }, "timezone", nil},
		{"negative attempts", func(r *schedtype.ScheduleRequest) { r.MaxAttempts = -1 }, "max_attempts", nil},
		{"negative timeout", func(r *schedtype.ScheduleRequest) { r.Timeout = -time.Second }, "timeout", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := good
			tt.edit(&req)
			_, err := b.engine.AddSchedule(context.Background(), req)
			if err == nil {
				t.Fatal("accepted")
			}
			if tt.is != nil {
				if !errors.Is(err, tt.is) {
					t.Fatalf("err = %v, want %v", err, tt.is)
				}
				return
			}
			var fe *field.Error
			if !errors.As(err, &fe) {
				t.Fatalf("err = %v (%T), want *field.Error", err, err)
			}
			if !strings.HasPrefix(fe.Field, tt.field) {
				t.Fatalf("field = %q, want %q (err: %v)", fe.Field, tt.field, err)
			}
		})
	}
	if got, _ := b.engine.ListSchedules(context.Background()); len(got) != 0 {
		t.Fatalf("rejected input left %d schedules", len(got))
	}
}

func TestScheduler_DuplicateIDConflictsUnlessReplace(t *testing.T) {
	b := setup(t, scheduler.Options{})
	var calls atomic.Int64
	b.serveHandler(t, "h1", 1, okMux(&calls))
	ctx := context.Background()
	req := schedtype.ScheduleRequest{ID: "dup", HandlerID: "h1", Method: "work", Trigger: json.RawMessage(`{"type":"interval","hours":1}`)}
	if _, err := b.engine.AddSchedule(ctx, req); err != nil {
		t.Fatal(err)
	}
	if _, err := b.engine.AddSchedule(ctx, req); !errors.Is(err, store.ErrExists) {
		t.Fatalf("duplicate: err = %v, want ErrExists", err)
	}
	req.Replace = true
	req.Trigger = json.RawMessage(`{"type":"interval","hours":2}`)
	if _, err := b.engine.AddSchedule(ctx, req); err != nil {
		t.Fatalf("replace: %v", err)
	}
	if err := b.engine.DeleteSchedule(ctx, "dup"); err != nil {
		t.Fatal(err)
	}
	if err := b.engine.DeleteSchedule(ctx, "dup"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second delete: err = %v, want ErrNotFound", err)
	}
	if _, err := b.db.GetSchedule(ctx, "dup"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted schedule still stored: %v", err)
	}
}

func TestScheduler_PauseStopsFiringResumeRearms(t *testing.T) {
	b := setup(t, scheduler.Options{})
	var calls atomic.Int64
	b.serveHandler(t, "h1", 1, okMux(&calls))
	ctx := context.Background()
	if _, err := b.engine.AddSchedule(ctx, schedtype.ScheduleRequest{ID: "p", HandlerID: "h1", Method: "work",
		Trigger: json.RawMessage(`{"type":"interval","hours":1}`)}); err != nil {
		t.Fatal(err)
	}
	// The handler counts the call before its reply is back: wait for the
	// record, or the manual run below meets a run still in flight and is
	// skipped by the overlap policy.
	await(t, "the first fire recorded", func() bool {
		recs := b.executions(t, store.ExecutionFilter{ScheduleID: "p", Status: store.StatusSucceeded})
		return calls.Load() == 1 && len(recs) == 1
	})
	s, err := b.engine.PauseSchedule(ctx, "p")
	if err != nil || !s.Paused {
		t.Fatalf("pause: %+v %v", s, err)
	}
	stored, _ := b.db.GetSchedule(ctx, "p")
	if !stored.Paused {
		t.Fatal("pause not stored")
	}
	s, err = b.engine.ResumeSchedule(ctx, "p")
	if err != nil || s.Paused || s.NextFire.IsZero() {
		t.Fatalf("resume: %+v %v", s, err)
	}
	run, err := b.engine.TriggerSchedule(ctx, "p", false)
	if err != nil || run.ID == "" || run.Status == store.StatusMissed {
		t.Fatalf("trigger: %+v %v", run, err)
	}
	await(t, "the manual run", func() bool { return calls.Load() == 2 })
}
