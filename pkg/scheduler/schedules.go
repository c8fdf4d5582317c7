package scheduler

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/schedulezero/schedulezero/pkg/event"
	"github.com/schedulezero/schedulezero/pkg/field"
	"github.com/schedulezero/schedulezero/pkg/scheduler/schedtype"
	"github.com/schedulezero/schedulezero/pkg/store"
	"github.com/schedulezero/schedulezero/pkg/trigger"
)

// Limits on schedule fields.
const (
	maxAttemptsLimit = 100
)

// AddSchedule validates req, stores the schedule durably and arms it.
// checkMethod reports an error unless handler id is known and offers method
// (a handler that has not said which methods it has accepts any).
func (s *Scheduler) checkMethod(id, method string) error {
	h, ok := s.reg.get(id)
	if !ok {
		return fmt.Errorf("handler %q: %w", id, store.ErrNotFound)
	}
	h.mu.Lock()
	methods := slices.Clone(h.rec.Methods)
	h.mu.Unlock()
	if len(methods) > 0 && !slices.Contains(methods, method) {
		return field.Errorf("job_method", "handler %q has no method %q", id, method).
			WithFix("use one of: %s", strings.Join(methods, ", "))
	}
	return nil
}

func (s *Scheduler) AddSchedule(ctx context.Context, req schedtype.ScheduleRequest) (store.Schedule, error) {
	if req.HandlerID == "" {
		return store.Schedule{}, field.Errorf("handler_id", "is required").WithFix("name a registered handler")
	}
	if req.Method == "" {
		return store.Schedule{}, field.Errorf("job_method", "is required").WithFix("name one of the handler's methods")
	}
	if err := s.checkMethod(req.HandlerID, req.Method); err != nil {
		return store.Schedule{}, err
	}
	if p := bytes.TrimSpace(req.Params); len(p) > 0 && p[0] != '{' && !bytes.Equal(p, []byte("null")) {
		return store.Schedule{}, field.Errorf("job_params", "must be a JSON object").WithFix(`for example {"message": "hi"}`)
	}
	if req.ID != "" {
		if err := store.CheckScheduleID(req.ID); err != nil {
			return store.Schedule{}, err
		}
	}
	if req.MaxAttempts < 0 || req.MaxAttempts > maxAttemptsLimit {
		return store.Schedule{}, field.Errorf("max_attempts", "is %d", req.MaxAttempts).WithFix("use 1 to %d, or 0 for the default (%d)", maxAttemptsLimit, s.opts.DefaultMaxAttempts)
	}
	if req.Timeout < 0 {
		return store.Schedule{}, field.Errorf("timeout", "is negative").WithFix(`use a duration such as "30s", or leave it out for the default (%s)`, s.opts.DefaultTimeout)
	}
	if err := req.Policy.Validate(); err != nil {
		return store.Schedule{}, err
	}
	loc, err := s.location(req.Timezone)
	if err != nil {
		return store.Schedule{}, field.Errorf("timezone", "%q is not a known time zone", req.Timezone).WithFix(`use an IANA name such as "Europe/Berlin" or "UTC"`)
	}
	if len(bytes.TrimSpace(req.Trigger)) == 0 {
		return store.Schedule{}, field.Errorf("trigger", "is required").WithFix(`for example {"type": "interval", "seconds": 10}`)
	}
	now := s.now()
	trig, normalized, err := trigger.ParseMin(req.Trigger, now, loc, s.opts.MinInterval)
	if err != nil {
		return store.Schedule{}, field.Prefix("trigger", err)
	}
	next, ok := trig.Next(now.Add(-time.Nanosecond))
	if !ok {
		if _, isDate := trig.(trigger.Date); isDate {
			// A date already past fires once, at once: the user asked
			// for it to run and it has not.
			next = now
		} else {
			return store.Schedule{}, field.Errorf("trigger", "has no fire time after now").WithFix("check end_time and the calendar fields")
		}
	}
	rec := store.Schedule{
		ID:          req.ID,
		HandlerID:   req.HandlerID,
		Method:      req.Method,
		Params:      req.Params,
		Trigger:     normalized,
		Timezone:    req.Timezone,
		MaxAttempts: req.MaxAttempts,
		Timeout:     req.Timeout,
		Policy:      req.Policy,
		Source:      req.Source,
		NextFire:    next,
		CreatedAt:   now,
		UpdatedAt:   now,
	}
	if bytes.Equal(bytes.TrimSpace(rec.Params), []byte("null")) {
		rec.Params = nil
	}

	s.mu.Lock()
	if rec.ID == "" {
		// The original's default, <handler>_<method>_<epoch>, made to obey
		// the id rule whatever the names hold, with room for freeIDLocked's
		// "-N".
		base := store.ScheduleIDFrom(fmt.Sprintf("%s_%s_%d", req.HandlerID, req.Method, now.Unix()))
		rec.ID = s.freeIDLocked(base[:min(len(base), store.MaxScheduleIDLen-8)])
	}
	old := s.entries.get(rec.ID)
	exists := old != nil
	// A finished schedule (a date that fired) is not live: a new one may
	// take its id, the way the original's fired one-shot jobs were gone.
	if exists && !req.Replace && !old.rec.Done {
		s.mu.Unlock()
		return store.Schedule{}, fmt.Errorf("schedule %q: %w", rec.ID, store.ErrExists)
	}
	if exists {
		if !old.rec.Done {
			rec.CreatedAt = old.rec.CreatedAt()
		}
		old.rec.Paused = true // take it out of the heap
		s.heap.place(old)
	}
	e := newEntry(rec, trig)
	s.entries.put(e)
	s.heap.place(e)
	done := s.commitLocked(store.Writes{Schedules: []store.Schedule{rec}})
	s.mu.Unlock()
	s.Nudge()
	if err := <-done; err != nil {
		s.mu.Lock()
		if s.entries.get(rec.ID) == e {
			e.rec.Paused = true
			s.heap.place(e)
			s.entries.remove(rec.ID)
			if exists {
				s.entries.put(old)
				old.rec.Paused = false
				s.heap.place(old)
			}
		}
		s.mu.Unlock()
		return store.Schedule{}, fmt.Errorf("schedule %q: %w", rec.ID, err)
	}
	if exists {
		s.emitSchedule(event.ScheduleChanged, rec)
	} else {
		s.emitSchedule(event.ScheduleCreated, rec)
	}
	s.logger.Info("schedule added", "schedule_id", rec.ID, "handler", rec.HandlerID, "method", rec.Method,
		"next_fire_time", rec.NextFire.Format(time.RFC3339Nano))
	return rec, nil
}

// freeIDLocked returns base, or base-N when base is taken.
func (s *Scheduler) freeIDLocked(base string) string {
	id := base
	for n := 2; ; n++ {
		if s.entries.get(id) == nil {
			return id
		}
		id = base + "-" + strconv.Itoa(n)
	}
}

// commitLocked queues w; the caller holds s.mu, so the store sees schedule
// changes in the order the engine made them.
func (s *Scheduler) commitLocked(w store.Writes) <-chan error {
	done := make(chan error, 1)
	s.db.CommitAsync(w, func(err error) { done <- err })
	return done
}

// DeleteSchedule removes a schedule; its history stays.
func (s *Scheduler) DeleteSchedule(_ context.Context, id string) error {
	s.mu.Lock()
	e, err := s.entryLocked(id)
	if err != nil {
		s.mu.Unlock()
		return err
	}
	e.rec.Paused = true
	s.heap.place(e)
	s.entries.remove(id)
	done := s.commitLocked(store.Writes{DeleteSchedules: []string{id}})
	s.mu.Unlock()
	if err := <-done; err != nil {
		return fmt.Errorf("delete schedule %q: %w", id, err)
	}
	s.emitSchedule(event.ScheduleDeleted, e.record())
	s.logger.Info("schedule deleted", "schedule_id", id)
	return nil
}

// UpdateSchedule edits a schedule in place; its history stays with its id.
func (s *Scheduler) UpdateSchedule(_ context.Context, id string, u schedtype.ScheduleUpdate) (store.Schedule, error) {
	s.mu.Lock()
	e, err := s.entryLocked(id)
	if err != nil {
		s.mu.Unlock()
		return store.Schedule{}, err
	}
	rec := e.record()
	s.mu.Unlock()

	if u.Method != nil {
		if *u.Method == "" {
			return store.Schedule{}, field.Errorf("job_method", "is empty").WithFix("name one of the handler's methods, or leave it out to keep %q", rec.Method)
		}
		if err := s.checkMethod(rec.HandlerID, *u.Method); err != nil {
			return store.Schedule{}, err
		}
		rec.Method = *u.Method
	}
	if u.Params != nil {
		rec.Params = u.Params
	}
	if u.Timezone != nil {
		rec.Timezone = *u.Timezone
	}
	if u.MaxAttempts != nil {
		rec.MaxAttempts = *u.MaxAttempts
	}
	if u.Timeout != nil {
		if *u.Timeout < 0 {
			return store.Schedule{}, field.Errorf("timeout", "is negative").WithFix(`use a duration such as "30s", or 0 for the default (%s)`, s.opts.DefaultTimeout)
		}
		rec.Timeout = *u.Timeout
	}
	if u.Policy != nil {
		rec.Policy = *u.Policy
	}
	if u.Source != nil {
		rec.Source = *u.Source
	}
	trigRaw := rec.Trigger
	if u.Trigger != nil {
		trigRaw = u.Trigger
	} else if u.Timezone != nil {
		// The stored trigger carries the zone it was normalized in; a new
		// schedule zone must replace it, not lose to it.
		trigRaw = withoutTimezone(trigRaw)
	}
	// Validate the edited schedule exactly as a new one.
	if err := rec.Policy.Validate(); err != nil {
		return store.Schedule{}, err
	}
	if rec.MaxAttempts < 0 || rec.MaxAttempts > maxAttemptsLimit {
		return store.Schedule{}, field.Errorf("max_attempts", "is %d", rec.MaxAttempts).WithFix("use 1 to %d", maxAttemptsLimit)
	}
	loc, err := s.location(rec.Timezone)
	if err != nil {
		return store.Schedule{}, field.Errorf("timezone", "%q is not a known time zone", rec.Timezone)
	}
	now := s.now()
	trig, normalized, err := trigger.ParseMin(trigRaw, now, loc, s.opts.MinInterval)
	if err != nil {
		return store.Schedule{}, field.Prefix("trigger", err)
	}
	rec.Trigger = normalized
	if u.Trigger != nil || u.Timezone != nil {
		next, ok := trig.Next(now.Add(-time.Nanosecond))
		rec.NextFire, rec.Done = next, !ok
		if !ok {
			rec.NextFire = time.Time{}
		}
	}
	s.mu.Lock()
	if s.entries.get(id) != e {
		s.mu.Unlock()
		return store.Schedule{}, fmt.Errorf("schedule %q changed during the edit: %w", id, store.ErrNotFound)
	}
	before := e.record()
	// Counters and state that moved meanwhile stay the engine's.
	rec.FireCount, rec.MissedCount, rec.LastFire = e.rec.FireCount, e.rec.MissedCount, e.rec.LastFire()
	rec.Paused, rec.PausedAt = e.rec.Paused, e.pausedAt()
	if u.Trigger == nil && u.Timezone == nil {
		rec.NextFire, rec.Done = e.rec.NextFire(), e.rec.Done
	}
	rec.UpdatedAt = now
	e.set(rec)
	e.broken = false
	e.setTrigger(trig)
	s.heap.place(e)
	if err := s.commitEditUnlock(id, e, before, rec); err != nil {
		return store.Schedule{}, err
	}
	s.emitSchedule(event.ScheduleChanged, rec)
	s.logger.Info("schedule updated", "schedule_id", id)
	return rec, nil
}

// withoutTimezone returns a trigger object without its "timezone" field, so
// that it is parsed in the schedule's zone. Anything but an object is
// returned as it is.
func withoutTimezone(raw json.RawMessage) json.RawMessage {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return raw
	}
	if _, ok := m["timezone"]; !ok {
		return raw
	}
	delete(m, "timezone")
	out, err := json.Marshal(m)
	if err != nil {
		return raw
	}
	return out
}

// commitEditUnlock commits rec, the edited schedule id held by e, and
// unlocks s.mu, which the caller holds; it waits for the commit without
// it. When the commit fails, e goes back to before, unless the schedule
// was replaced meanwhile.
func (s *Scheduler) commitEditUnlock(id string, e *entry, before, rec store.Schedule) error {
	done := s.commitLocked(store.Writes{Schedules: []store.Schedule{rec}})
	s.mu.Unlock()
	s.Nudge()
	if err := <-done; err != nil {
		s.mu.Lock()
		if s.entries.get(id) == e {
			e.set(before)
			s.heap.place(e)
		}
		s.mu.Unlock()
		return fmt.Errorf("schedule %q: %w", id, err)
	}
	return nil
}
