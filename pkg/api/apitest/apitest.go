// Package apitest provides an in-memory api.Backend for tests of the REST API,
// the Go client and the CLI, named like net/http/httptest.
//
// It exists because those three layers need a Backend with deterministic ids
// and times and with injectable failures, without starting the scheduler
// engine. It implements the Backend contract honestly where the API depends on
// it (sentinel errors, *field.Error for bad triggers, 409 on duplicates unless
// Replace, newest-first history, per-attempt records) and keeps everything else
// minimal: it does not fire schedules by itself.
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
	"github.com/schedulezero/schedulezero/pkg/field"
	"github.com/schedulezero/schedulezero/pkg/store"
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
	handlers  map[string]api.HandlerStatus
	schedules map[string]store.Schedule
	execs     []store.Execution
	fail      map[string]error
	run       RunFunc
}

var _ api.Backend = (*Backend)(nil)

// NewBackend returns an empty Backend whose clock stands at Epoch and whose
// RunFunc answers {"success":true,"counter":N}.
func NewBackend() *Backend {
	b := &Backend{now: Epoch, handlers: map[string]api.HandlerStatus{}, schedules: map[string]store.Schedule{}, fail: map[string]error{}}
	calls := 0
	b.run = func(_ context.Context, _, method string, _ json.RawMessage) (json.RawMessage, error) {
		calls++
		return json.RawMessage(fmt.Sprintf(`{"success":true,"status":%q,"counter":%d}`, method, calls)), nil
	}
	return b
}

// AddHandler registers (or replaces) a handler.
func (b *Backend) AddHandler(h api.HandlerStatus) {
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

// AddExecution appends a history record as the engine would.
func (b *Backend) AddExecution(e store.Execution) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.execs = append(b.execs, e)
}

func (b *Backend) failed(method string) error { return b.fail[method] }

// AddSchedule validates req and stores the schedule.
func (b *Backend) AddSchedule(_ context.Context, req api.ScheduleRequest) (store.Schedule, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.failed("AddSchedule"); err != nil {
		return store.Schedule{}, err
	}
	if err := b.checkMethod(req.HandlerID, req.Method); err != nil {
		return store.Schedule{}, err
	}
	next, err := firstFire(req.Trigger, b.now)
	if err != nil {
		return store.Schedule{}, field.Prefix("trigger", err)
	}
	if req.Timezone != "" {
		if _, err := time.LoadLocation(req.Timezone); err != nil {
			return store.Schedule{}, field.Errorf("timezone", "unknown time zone %q", req.Timezone).WithFix("use an IANA name such as Europe/Paris")
		}
	}
	id := cmp.Or(req.ID, fmt.Sprintf("%s_%s_%d", req.HandlerID, req.Method, b.now.Unix()))
	old, exists := b.schedules[id]
	if exists && !req.Replace {
		return store.Schedule{}, fmt.Errorf("schedule %q: %w", id, store.ErrExists)
	}
	s := store.Schedule{
		ID: id, HandlerID: req.HandlerID, Method: req.Method, Params: req.Params, Trigger: req.Trigger,
		Timezone: req.Timezone, MaxAttempts: req.MaxAttempts, Timeout: req.Timeout,
		NextFire: next, CreatedAt: b.now, UpdatedAt: b.now,
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
	if !slices.Contains(h.Methods, method) {
		return field.Errorf("job_method", "handler %q has no method %q", handlerID, method).WithFix("use one of %v", h.Methods)
	}
	return nil
}

// firstFire does the minimal trigger validation the API tests rely on.
func firstFire(raw json.RawMessage, now time.Time) (time.Time, error) {
	var t struct {
		Type    string          `json:"type"`
		RunDate json.RawMessage `json:"run_date"`
		Seconds float64         `json:"seconds"`
		Minutes float64         `json:"minutes"`
		Hours   float64         `json:"hours"`
		Expr    string          `json:"expr"`
	}
	if err := json.Unmarshal(raw, &t); err != nil {
		return time.Time{}, field.Errorf("", "invalid trigger: %v", err)
	}
	switch t.Type {
	case "date":
		var s string
		if err := json.Unmarshal(t.RunDate, &s); err != nil || s == "" {
			return time.Time{}, field.Errorf("run_date", "run_date is required").WithFix("use an ISO-8601 time")
		}
		at, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return time.Time{}, field.Errorf("run_date", "run_date %q is not RFC 3339", s)
		}
		return at, nil
	case "interval":
		d := time.Duration((t.Seconds + 60*t.Minutes + 3600*t.Hours) * float64(time.Second))
		if d <= 0 {
			return time.Time{}, field.Errorf("seconds", "interval must be positive").WithFix("set seconds, minutes or hours")
		}
		return now, nil
	case "cron", "calendar":
		return now.Truncate(time.Minute).Add(time.Minute), nil
	}
	return time.Time{}, field.Errorf("type", "Unsupported trigger type %q", t.Type).WithFix("Use 'date', 'interval', 'cron' or 'calendar'.")
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
	s.Paused, s.UpdatedAt = paused, b.now
	b.schedules[id] = s
	return s, nil
}

// TriggerSchedule runs schedule id once, synchronously, and returns the
// execution id.
func (b *Backend) TriggerSchedule(ctx context.Context, id string, _ bool) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.failed("TriggerSchedule"); err != nil {
		return "", err
	}
	s, ok := b.schedules[id]
	if !ok {
		return "", fmt.Errorf("schedule %q: %w", id, store.ErrNotFound)
	}
	e, err := b.call(ctx, id, s.HandlerID, s.Method, s.Params, s.MaxAttempts)
	if err != nil {
		return "", err
	}
	return e.ID, nil
}

// RunNow calls the RunFunc once and records the attempt.
func (b *Backend) RunNow(ctx context.Context, req api.RunRequest) (store.Execution, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.failed("RunNow"); err != nil {
		return store.Execution{}, err
	}
	if err := b.checkMethod(req.HandlerID, req.Method); err != nil {
		return store.Execution{}, err
	}
	return b.call(ctx, "", req.HandlerID, req.Method, req.Params, req.MaxAttempts)
}

func (b *Backend) call(ctx context.Context, scheduleID, handlerID, method string, params json.RawMessage, maxAttempts int) (store.Execution, error) {
	reply, err := b.run(ctx, handlerID, method, params)
	if err != nil {
		return store.Execution{}, err
	}
	b.seq++
	e := store.Execution{
		ID: fmt.Sprintf("ex-%04d", b.seq), Attempt: 1, MaxAttempts: max(maxAttempts, 1),
		ScheduleID: scheduleID, HandlerID: handlerID, Method: method, Status: store.StatusSucceeded,
		ScheduledAt: b.now, StartedAt: b.now, CompletedAt: b.now.Add(12 * time.Millisecond),
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
func (b *Backend) Handlers(context.Context) ([]api.HandlerStatus, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.failed("Handlers"); err != nil {
		return nil, err
	}
	out := make([]api.HandlerStatus, 0, len(b.handlers))
	for _, h := range b.handlers {
		out = append(out, h)
	}
	slices.SortFunc(out, func(a, c api.HandlerStatus) int { return cmp.Compare(a.ID, c.ID) })
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
		if !e.Status.Finished() {
			continue
		}
		st.Total++
		st.ByStatus[e.Status]++
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

// UpdateSchedule implements api.Backend for the fields the fake keeps.
func (b *Backend) UpdateSchedule(ctx context.Context, id string, u api.ScheduleUpdate) (store.Schedule, error) {
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
	if u.Trigger != nil {
		s.Trigger = u.Trigger
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
	b.schedules[id] = s
	return s, nil
}

// Backfill implements api.Backend: the fake has no triggers to walk, so it
// queues nothing and says so.
func (b *Backend) Backfill(ctx context.Context, id string, from, to time.Time) (api.BackfillResult, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.failed("Backfill"); err != nil {
		return api.BackfillResult{}, err
	}
	if _, ok := b.schedules[id]; !ok {
		return api.BackfillResult{}, fmt.Errorf("schedule %q: %w", id, store.ErrNotFound)
	}
	return api.BackfillResult{ScheduleID: id}, nil
}
