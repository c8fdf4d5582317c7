// Package apitest provides an in-memory api.Backend for tests of the REST API,
// the Go client and the CLI, named like net/http/httptest.
//
// It exists because those three layers need a Backend with deterministic ids
// and times and with injectable failures, without starting the scheduler
// engine. It implements the Backend contract honestly where the API depends on
// it (sentinel errors, *field.Error for bad triggers, 409 on duplicates unless
// Replace, newest-first history, per-attempt records) and keeps everything else
// minimal: it does not fire schedules by itself, and it runs what it runs
// (TriggerSchedule, RunNow, Backfill) synchronously through its RunFunc.
//
// Exercise is the conformance suite of the Backend contract. It runs on this
// fake (in pkg/api's tests) and on the real engine, so the fake cannot drift.
package apitest

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/schedulezero/schedulezero/pkg/api"
	"github.com/schedulezero/schedulezero/pkg/event"
	"github.com/schedulezero/schedulezero/pkg/field"
	"github.com/schedulezero/schedulezero/pkg/scheduler/schedtype"
	"github.com/schedulezero/schedulezero/pkg/store"
	"github.com/schedulezero/schedulezero/pkg/trigger"
)

// Epoch is the fixed "now" of a new Backend.
var Epoch = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// RunFunc answers one job call: the handler's reply object, or an error when
// the call failed before a reply (returned from RunNow as is).
type RunFunc func(ctx context.Context, handlerID, method string, params json.RawMessage) (json.RawMessage, error)

// Backend is an in-memory api.Backend. The zero value is not usable; call
// NewBackend.
type Backend struct {
	mu        sync.Mutex
	now       time.Time
	seq       int
	handlers  map[string]schedtype.HandlerStatus
	schedules map[string]store.Schedule
	execs     []store.Execution
	fail      map[string]error
	run       RunFunc

	// Events is the hub AddExecution publishes to, for the event stream
	// (api.Options.Events).
	Events *event.Hub
}

var _ api.Backend = (*Backend)(nil)

// NewBackend returns an empty Backend whose clock stands at Epoch and whose
// RunFunc answers {"success":true,"counter":N}.
func NewBackend() *Backend {
	b := &Backend{now: Epoch, handlers: map[string]schedtype.HandlerStatus{}, schedules: map[string]store.Schedule{}, fail: map[string]error{}, Events: event.NewHub(0)}
	calls := 0
	b.run = func(_ context.Context, _, method string, _ json.RawMessage) (json.RawMessage, error) {
		calls++
		return json.RawMessage(fmt.Sprintf(`{"success":true,"status":%q,"counter":%d}`, method, calls)), nil
	}
	return b
}

// AddHandler registers (or replaces) a handler.
func (b *Backend) AddHandler(h schedtype.HandlerStatus) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.handlers[h.ID] = h
}

// SetRunFunc replaces the function that answers RunNow and TriggerSchedule.
func (b *Backend) SetRunFunc(f RunFunc) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.run = f
}

// Fail makes every later call of the Backend method named method (e.g.
// "ListSchedules") return err; a nil err clears it.
func (b *Backend) Fail(method string, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err == nil {
		delete(b.fail, method)
		return
	}
	b.fail[method] = err
}

// Advance moves the Backend's clock.
func (b *Backend) Advance(d time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.now = b.now.Add(d)
}

// AddExecution appends a history record as the engine would: a missed
// record counts one occurrence in its schedule's missed_count, and the
// record's event is published to Events.
func (b *Backend) AddExecution(e store.Execution) {
	b.mu.Lock()
	b.execs = append(b.execs, e)
	if s, ok := b.schedules[e.ScheduleID]; ok && e.Status == store.StatusMissed {
		s.MissedCount++
		b.schedules[e.ScheduleID] = s
	}
	b.mu.Unlock()
	kind := event.ExecutionFinished
	switch e.Status {
	case store.StatusPending:
		return
	case store.StatusRunning:
		kind = event.ExecutionStarted
	case store.StatusMissed:
		kind = event.ExecutionMissed
	}
	b.Events.Publish(event.Event{Kind: kind, ScheduleID: e.ScheduleID, HandlerID: e.HandlerID, Method: e.Method, ExecutionID: e.ID,
		Attempt: e.Attempt, MaxAttempts: e.MaxAttempts, Status: string(e.Status), Reason: e.Error, ScheduledAt: e.ScheduledAt, DurationMS: e.DurationMS})
}

func (b *Backend) failed(method string) error { return b.fail[method] }

// TriggerSchedule runs schedule id once, synchronously, and returns the
// execution's record.
func (b *Backend) TriggerSchedule(ctx context.Context, id string, _ bool) (store.Execution, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.failed("TriggerSchedule"); err != nil {
		return store.Execution{}, err
	}
	s, ok := b.schedules[id]
	if !ok {
		return store.Execution{}, fmt.Errorf("schedule %q: %w", id, store.ErrNotFound)
	}
	return b.call(ctx, id, s.HandlerID, s.Method, s.Params, s.MaxAttempts, b.now)
}

// RemoveHandler drops handler id.
func (b *Backend) RemoveHandler(_ context.Context, id string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.failed("RemoveHandler"); err != nil {
		return err
	}
	if _, ok := b.handlers[id]; !ok {
		return fmt.Errorf("handler %q: %w", id, store.ErrNotFound)
	}
	delete(b.handlers, id)
	return nil
}

// RunNow calls the RunFunc once and records the attempt.
func (b *Backend) RunNow(ctx context.Context, req schedtype.RunRequest) (store.Execution, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.failed("RunNow"); err != nil {
		return store.Execution{}, err
	}
	if err := b.checkMethod(req.HandlerID, req.Method); err != nil {
		return store.Execution{}, err
	}
	return b.call(ctx, "", req.HandlerID, req.Method, req.Params, req.MaxAttempts, b.now)
}

func (b *Backend) call(ctx context.Context, scheduleID, handlerID, method string, params json.RawMessage, maxAttempts int, occ time.Time) (store.Execution, error) {
	reply, err := b.run(ctx, handlerID, method, params)
	if err != nil {
		return store.Execution{}, err
	}
	b.seq++
	e := store.Execution{
		ID: fmt.Sprintf("ex-%04d", b.seq), Attempt: 1, MaxAttempts: max(maxAttempts, 1),
		ScheduleID: scheduleID, HandlerID: handlerID, Method: method, Status: store.StatusSucceeded,
		ScheduledAt: occ, StartedAt: b.now, CompletedAt: b.now.Add(12 * time.Millisecond),
		DurationMS: 12, Result: reply, ParamsSummary: string(params),
	}
	var r struct {
		Success bool   `json:"success"`
		Error   string `json:"error"`
	}
	if json.Unmarshal(reply, &r) != nil || !r.Success {
		e.Status, e.Error = store.StatusFailed, cmp.Or(r.Error, "handler answered success=false")
	}
	b.execs = append(b.execs, e)
	b.now = b.now.Add(time.Second)
	return e, nil
}

// Handlers lists handlers ordered by id.
func (b *Backend) Handlers(context.Context) ([]schedtype.HandlerStatus, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.failed("Handlers"); err != nil {
		return nil, err
	}
	out := make([]schedtype.HandlerStatus, 0, len(b.handlers))
	for _, h := range b.handlers {
		out = append(out, h)
	}
	slices.SortFunc(out, func(a, c schedtype.HandlerStatus) int { return cmp.Compare(a.ID, c.ID) })
	return out, nil
}

// Executions filters history, newest first.
func (b *Backend) Executions(_ context.Context, f store.ExecutionFilter) ([]store.Execution, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.failed("Executions"); err != nil {
		return nil, err
	}
	var out []store.Execution
	for i := len(b.execs) - 1; i >= 0; i-- {
		e := b.execs[i]
		if (f.ScheduleID != "" && e.ScheduleID != f.ScheduleID) || (f.HandlerID != "" && e.HandlerID != f.HandlerID) ||
			(f.ExecutionID != "" && e.ID != f.ExecutionID) || (f.Status != "" && e.Status != f.Status) {
			continue
		}
		out = append(out, e)
		if f.Limit > 0 && len(out) == f.Limit {
			break
		}
	}
	return out, nil
}

// ExecutionPage is one page of Executions; its cursor is the position of
// the last record returned (execution id and attempt).
func (b *Backend) ExecutionPage(ctx context.Context, f store.ExecutionFilter) (store.ExecutionPage, error) {
	limit, cursor := f.Limit, f.Cursor
	f.Limit = 0
	all, err := b.Executions(ctx, f)
	if err != nil {
		return store.ExecutionPage{}, err
	}
	i := 0
	if cursor != "" {
		i = slices.IndexFunc(all, func(e store.Execution) bool { return pageKey(e) == cursor })
		if i < 0 {
			return store.ExecutionPage{}, field.Errorf("cursor", "%q is not a cursor of this listing", cursor)
		}
		i++
	}
	all = all[i:]
	p := store.ExecutionPage{Executions: all}
	if limit > 0 && len(all) > limit {
		p.Executions = all[:limit]
		p.Next = pageKey(all[limit-1])
	}
	return p, nil
}

func pageKey(e store.Execution) string { return fmt.Sprintf("%s.%d", e.ID, e.Attempt) }

// Stats summarises finished attempts.
func (b *Backend) Stats(context.Context) (store.Stats, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.failed("Stats"); err != nil {
		return store.Stats{}, err
	}
	st := store.Stats{ByStatus: map[store.Status]int64{}, ByHandler: map[string]store.HandlerStats{}}
	var sum float64
	for _, e := range b.execs {
		st.ByStatus[e.Status]++ // as the store: every record, finished or not
		if !e.Status.Finished() {
			continue
		}
		st.Total++
		sum += e.DurationMS
		h := st.ByHandler[e.HandlerID]
		h.Total++
		if e.Status == store.StatusSucceeded {
			h.Succeeded++
		} else {
			h.Failed++
		}
		h.AvgDurationMS += (e.DurationMS - h.AvgDurationMS) / float64(h.Total)
		st.ByHandler[e.HandlerID] = h
	}
	if st.Total > 0 {
		st.AvgDurationMS = sum / float64(st.Total)
	}
	return st, nil
}

// ClearExecutions empties history.
func (b *Backend) ClearExecutions(context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.failed("ClearExecutions"); err != nil {
		return err
	}
	b.execs = nil
	return nil
}

// Backfill runs every occurrence of schedule id's trigger in [from, to], in
// order, through the RunFunc, each recorded with its occurrence as
// ScheduledAt. More than 1000 occurrences is a *field.Error on "to", as in
// the engine.
func (b *Backend) Backfill(ctx context.Context, id string, from, to time.Time) (schedtype.BackfillResult, error) {
	if from.IsZero() || to.IsZero() {
		return schedtype.BackfillResult{}, field.Errorf("from", "and to are both required").WithFix("give RFC 3339 times, e.g. 2026-01-01T00:00:00Z")
	}
	if to.Before(from) {
		return schedtype.BackfillResult{}, field.Errorf("to", "is before from")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.failed("Backfill"); err != nil {
		return schedtype.BackfillResult{}, err
	}
	s, ok := b.schedules[id]
	if !ok {
		return schedtype.BackfillResult{}, fmt.Errorf("schedule %q: %w", id, store.ErrNotFound)
	}
	loc, err := location(s.Timezone)
	if err != nil {
		return schedtype.BackfillResult{}, err
	}
	trig, _, err := trigger.Parse(s.Trigger, b.now, loc)
	if err != nil {
		return schedtype.BackfillResult{}, fmt.Errorf("schedule %q: its trigger does not compile: %w", id, err)
	}
	var occs []time.Time
	for t, ok := trig.Next(from.Add(-time.Nanosecond)); ok && !t.After(to); t, ok = trig.Next(t) {
		if len(occs) == maxBackfill {
			return schedtype.BackfillResult{}, field.Errorf("to", "the range holds more than %d occurrences", maxBackfill).WithFix("backfill a shorter range at a time")
		}
		occs = append(occs, t)
	}
	for _, o := range occs {
		if _, err := b.call(ctx, id, s.HandlerID, s.Method, s.Params, s.MaxAttempts, o); err != nil {
			return schedtype.BackfillResult{}, err
		}
	}
	return schedtype.BackfillResult{ScheduleID: id, Occurrences: occs}, nil
}
