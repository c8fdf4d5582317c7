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
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
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

// AddSchedule validates req as the engine does and stores the schedule.
func (b *Backend) AddSchedule(_ context.Context, req schedtype.ScheduleRequest) (store.Schedule, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.failed("AddSchedule"); err != nil {
		return store.Schedule{}, err
	}
	if req.HandlerID == "" {
		return store.Schedule{}, field.Errorf("handler_id", "is required").WithFix("name a registered handler")
	}
	if req.Method == "" {
		return store.Schedule{}, field.Errorf("job_method", "is required").WithFix("name one of the handler's methods")
	}
	if err := b.checkMethod(req.HandlerID, req.Method); err != nil {
		return store.Schedule{}, err
	}
	if req.ID != "" {
		if err := store.CheckScheduleID(req.ID); err != nil {
			return store.Schedule{}, err
		}
	}
	if err := checkLimits(req.MaxAttempts, req.Timeout, req.Policy); err != nil {
		return store.Schedule{}, err
	}
	loc, err := location(req.Timezone)
	if err != nil {
		return store.Schedule{}, err
	}
	if len(bytes.TrimSpace(req.Trigger)) == 0 {
		return store.Schedule{}, field.Errorf("trigger", "is required").WithFix(`for example {"type": "interval", "seconds": 10}`)
	}
	trig, normalized, err := trigger.ParseMin(req.Trigger, b.now, loc, trigger.DefaultMinInterval)
	if err != nil {
		return store.Schedule{}, field.Prefix("trigger", err)
	}
	next, ok := trig.Next(b.now.Add(-time.Nanosecond))
	if !ok {
		if _, isDate := trig.(trigger.Date); !isDate {
			return store.Schedule{}, field.Errorf("trigger", "has no fire time after now").WithFix("check end_time and the calendar fields")
		}
		next = b.now // a date already past fires once, at once
	}
	id := req.ID
	if id == "" {
		base := store.ScheduleIDFrom(fmt.Sprintf("%s_%s_%d", req.HandlerID, req.Method, b.now.Unix()))
		id = base
		for n := 2; ; n++ {
			if _, taken := b.schedules[id]; !taken {
				break
			}
			id = fmt.Sprintf("%s-%d", base, n)
		}
	}
	old, exists := b.schedules[id]
	if exists && !req.Replace {
		return store.Schedule{}, fmt.Errorf("schedule %q: %w", id, store.ErrExists)
	}
	params := req.Params
	if bytes.Equal(bytes.TrimSpace(params), []byte("null")) {
		params = nil
	}
	s := store.Schedule{
		ID: id, HandlerID: req.HandlerID, Method: req.Method, Params: params, Trigger: normalized,
		Timezone: req.Timezone, MaxAttempts: req.MaxAttempts, Timeout: req.Timeout, Policy: req.Policy,
		NextFire: next, CreatedAt: b.now, UpdatedAt: b.now, Source: req.Source,
	}
	if exists {
		s.CreatedAt = old.CreatedAt
	}
	b.schedules[id] = s
	return s, nil
}

func (b *Backend) checkMethod(handlerID, method string) error {
	h, ok := b.handlers[handlerID]
	if !ok {
		return fmt.Errorf("handler %q: %w", handlerID, store.ErrNotFound)
	}
	if len(h.Methods) > 0 && !slices.Contains(h.Methods, method) {
		return field.Errorf("job_method", "handler %q has no method %q", handlerID, method).WithFix("use one of: %s", strings.Join(h.Methods, ", "))
	}
	return nil
}

// location resolves a schedule's zone; the fake's default zone is UTC.
func location(tz string) (*time.Location, error) {
	if tz == "" {
		return time.UTC, nil
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return nil, field.Errorf("timezone", "%q is not a known time zone", tz).WithFix(`use an IANA name such as "Europe/Berlin" or "UTC"`)
	}
	return loc, nil
}

// Engine limits the fake enforces like the engine.
const (
	maxAttemptsLimit = 100
	maxBackfill      = 1000
)

func checkLimits(maxAttempts int, timeout time.Duration, p store.Policy) error {
	if maxAttempts < 0 || maxAttempts > maxAttemptsLimit {
		return field.Errorf("max_attempts", "is %d", maxAttempts).WithFix("use 1 to %d, or 0 for the default", maxAttemptsLimit)
	}
	if timeout < 0 {
		return field.Errorf("timeout", "is negative").WithFix(`use a duration such as "30s", or leave it out for the default`)
	}
	return p.Validate()
}

// GetSchedule returns schedule id.
func (b *Backend) GetSchedule(_ context.Context, id string) (store.Schedule, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.failed("GetSchedule"); err != nil {
		return store.Schedule{}, err
	}
	s, ok := b.schedules[id]
	if !ok {
		return store.Schedule{}, fmt.Errorf("schedule %q: %w", id, store.ErrNotFound)
	}
	return s, nil
}

// ListSchedules returns every schedule ordered by id.
func (b *Backend) ListSchedules(context.Context) ([]store.Schedule, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.failed("ListSchedules"); err != nil {
		return nil, err
	}
	out := make([]store.Schedule, 0, len(b.schedules))
	for _, s := range b.schedules {
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, c store.Schedule) int { return cmp.Compare(a.ID, c.ID) })
	return out, nil
}

// SchedulePage returns up to limit schedules by id after after.
func (b *Backend) SchedulePage(ctx context.Context, after string, limit int) ([]store.Schedule, bool, error) {
	all, err := b.ListSchedules(ctx)
	if err != nil {
		return nil, false, err
	}
	i, _ := slices.BinarySearchFunc(all, after, func(s store.Schedule, id string) int { return cmp.Compare(s.ID, id) })
	if i < len(all) && all[i].ID == after {
		i++
	}
	all = all[i:]
	if len(all) > limit {
		return all[:limit], true, nil
	}
	return all, false, nil
}

// MissedCount sums the schedules' missed counts.
func (b *Backend) MissedCount(ctx context.Context) (int64, error) {
	all, err := b.ListSchedules(ctx)
	var n int64
	for _, s := range all {
		n += s.MissedCount
	}
	return n, err
}

// DeleteSchedule removes schedule id.
func (b *Backend) DeleteSchedule(_ context.Context, id string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.failed("DeleteSchedule"); err != nil {
		return err
	}
	if _, ok := b.schedules[id]; !ok {
		return fmt.Errorf("schedule %q: %w", id, store.ErrNotFound)
	}
	delete(b.schedules, id)
	return nil
}

// PauseSchedule pauses schedule id.
func (b *Backend) PauseSchedule(ctx context.Context, id string) (store.Schedule, error) {
	return b.setPaused(id, true, "PauseSchedule")
}

// ResumeSchedule resumes schedule id.
func (b *Backend) ResumeSchedule(ctx context.Context, id string) (store.Schedule, error) {
	return b.setPaused(id, false, "ResumeSchedule")
}

func (b *Backend) setPaused(id string, paused bool, op string) (store.Schedule, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.failed(op); err != nil {
		return store.Schedule{}, err
	}
	s, ok := b.schedules[id]
	if !ok {
		return store.Schedule{}, fmt.Errorf("schedule %q: %w", id, store.ErrNotFound)
	}
	if paused && !s.Paused {
		s.PausedAt = b.now
	}
	s.Paused, s.UpdatedAt = paused, b.now
	b.schedules[id] = s
	return s, nil
}

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

// UpdateSchedule edits schedule id and validates the result as the engine
// does (the same checks as a new schedule, except that the method is not
// checked against the handler, as in the engine). A new trigger or zone
// recomputes the next fire from now; counters and pause state stay.
func (b *Backend) UpdateSchedule(_ context.Context, id string, u schedtype.ScheduleUpdate) (store.Schedule, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.failed("UpdateSchedule"); err != nil {
		return store.Schedule{}, err
	}
	s, ok := b.schedules[id]
	if !ok {
		return store.Schedule{}, fmt.Errorf("schedule %q: %w", id, store.ErrNotFound)
	}
	if u.Method != nil {
		s.Method = *u.Method
	}
	if u.Params != nil {
		s.Params = u.Params
	}
	if u.Timezone != nil {
		s.Timezone = *u.Timezone
	}
	if u.MaxAttempts != nil {
		s.MaxAttempts = *u.MaxAttempts
	}
	if u.Timeout != nil {
		s.Timeout = *u.Timeout
	}
	if u.Policy != nil {
		s.Policy = *u.Policy
	}
	if u.Source != nil {
		s.Source = *u.Source
	}
	raw := s.Trigger
	if u.Trigger != nil {
		raw = u.Trigger
	}
	if err := checkLimits(s.MaxAttempts, s.Timeout, s.Policy); err != nil {
		return store.Schedule{}, err
	}
	loc, err := location(s.Timezone)
	if err != nil {
		return store.Schedule{}, err
	}
	trig, normalized, err := trigger.ParseMin(raw, b.now, loc, trigger.DefaultMinInterval)
	if err != nil {
		return store.Schedule{}, field.Prefix("trigger", err)
	}
	s.Trigger = normalized
	if u.Trigger != nil || u.Timezone != nil {
		next, ok := trig.Next(b.now.Add(-time.Nanosecond))
		s.NextFire, s.Done = next, !ok
	}
	s.UpdatedAt = b.now
	b.schedules[id] = s
	return s, nil
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
