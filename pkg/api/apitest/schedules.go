package apitest

// The fake's schedules: add, read, page, pause, update and delete, each
// validated as the engine validates.

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/schedulezero/schedulezero/pkg/field"
	"github.com/schedulezero/schedulezero/pkg/scheduler/schedtype"
	"github.com/schedulezero/schedulezero/pkg/store"
	"github.com/schedulezero/schedulezero/pkg/trigger"
)

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
