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
	old, exists := s.entries[rec.ID]
	// A finished schedule (a date that fired) is not live: a new one may
	// take its id, the way the original's fired one-shot jobs were gone.
	if exists && !req.Replace && !old.rec.Done {
		s.mu.Unlock()
		return store.Schedule{}, fmt.Errorf("schedule %q: %w", rec.ID, store.ErrExists)
	}
	if exists {
		if !old.rec.Done {
			rec.CreatedAt = old.rec.CreatedAt
		}
		old.rec.Paused = true // take it out of the heap
		s.heap.place(old)
	}
	e := newEntry(rec, trig)
	s.entries[rec.ID] = e
	s.heap.place(e)
	done := s.commitLocked(store.Writes{Schedules: []store.Schedule{rec}})
	s.mu.Unlock()
	s.Nudge()
	if err := <-done; err != nil {
		s.mu.Lock()
		if s.entries[rec.ID] == e {
			e.rec.Paused = true
			s.heap.place(e)
			delete(s.entries, rec.ID)
			if exists {
				s.entries[rec.ID] = old
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
		if _, taken := s.entries[id]; !taken {
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

// GetSchedule returns one schedule.
func (s *Scheduler) GetSchedule(_ context.Context, id string) (store.Schedule, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[id]
	if !ok {
		return store.Schedule{}, fmt.Errorf("schedule %q: %w", id, store.ErrNotFound)
	}
	return e.record(), nil
}

// ListSchedules returns every schedule, by id.
func (s *Scheduler) ListSchedules(context.Context) ([]store.Schedule, error) {
	s.mu.Lock()
	out := make([]store.Schedule, 0, len(s.entries))
	for _, e := range s.entries {
		out = append(out, e.record())
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b store.Schedule) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// SchedulePage returns up to limit schedules by id after after, and
// whether more follow. The order is the store's keys; each is then read
// from the engine, which holds the newest state: a schedule deleted here
// and not yet in the store is skipped, one being added and not yet durable
// is not listed. It costs the page, whatever the number of schedules.
func (s *Scheduler) SchedulePage(ctx context.Context, after string, limit int) ([]store.Schedule, bool, error) {
	out := make([]store.Schedule, 0, limit)
	for {
		want := limit + 1 - len(out) // one more says whether more follow
		ids, err := s.db.ScheduleIDs(ctx, after, want)
		if err != nil {
			return nil, false, err
		}
		s.mu.Lock()
		for _, id := range ids {
			if e, ok := s.entries[id]; ok {
				out = append(out, e.record())
			}
		}
		s.mu.Unlock()
		if len(out) > limit {
			return out[:limit], true, nil
		}
		if len(ids) < want {
			return out, false, nil
		}
		after = ids[len(ids)-1]
	}
}

// MissedCount sums the schedules' missed counts. It reads each entry's
// count and copies no record (listing every schedule for it took seconds
// at a million).
func (s *Scheduler) MissedCount(context.Context) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	for _, e := range s.entries {
		n += e.rec.MissedCount
	}
	return n, nil
}

// DeleteSchedule removes a schedule; its history stays.
func (s *Scheduler) DeleteSchedule(_ context.Context, id string) error {
	s.mu.Lock()
	e, ok := s.entries[id]
	if !ok {
		s.mu.Unlock()
		return fmt.Errorf("schedule %q: %w", id, store.ErrNotFound)
	}
	e.rec.Paused = true
	s.heap.place(e)
	delete(s.entries, id)
	done := s.commitLocked(store.Writes{DeleteSchedules: []string{id}})
	s.mu.Unlock()
	if err := <-done; err != nil {
		return fmt.Errorf("delete schedule %q: %w", id, err)
	}
	s.emitSchedule(event.ScheduleDeleted, e.record())
	s.logger.Info("schedule deleted", "schedule_id", id)
	return nil
}

// PauseSchedule stops a schedule from firing until it is resumed.
func (s *Scheduler) PauseSchedule(_ context.Context, id string) (store.Schedule, error) {
	return s.update(id, event.SchedulePaused, func(e *entry, now time.Time) error {
		if !e.rec.Paused {
			e.rec.Paused = true
			e.rec.PausedAt = now
		}
		return nil
	})
}

// ResumeSchedule arms a paused schedule again. Occurrences that fell in the
// pause are handled by the schedule's misfire policy, as after a stop.
func (s *Scheduler) ResumeSchedule(_ context.Context, id string) (store.Schedule, error) {
	return s.update(id, event.ScheduleResumed, func(e *entry, _ time.Time) error {
		e.rec.Paused = false
		return nil
	})
}

func (s *Scheduler) update(id string, kind event.Kind, fn func(*entry, time.Time) error) (store.Schedule, error) {
	s.mu.Lock()
	e, ok := s.entries[id]
	if !ok {
		s.mu.Unlock()
		return store.Schedule{}, fmt.Errorf("schedule %q: %w", id, store.ErrNotFound)
	}
	before := e.record()
	now := s.now()
	if err := fn(e, now); err != nil {
		s.mu.Unlock()
		return store.Schedule{}, err
	}
	e.rec.UpdatedAt = now
	s.heap.place(e)
	rec := e.record()
	if err := s.commitEditUnlock(id, e, before, rec); err != nil {
		return store.Schedule{}, err
	}
	s.emitSchedule(kind, rec)
	return rec, nil
}

// TriggerSchedule fires a schedule now, outside its trigger. The overlap
// policy applies unless force is set. It answers with what was decided,
// once it is durable: the new execution's first attempt (pending or
// running) when the run started; its missed record, with the reason, when
// it was skipped (the previous run still goes, the queue is full, the
// handler was removed); or, when it was queued behind the running one, a
// record that is not stored: no ID, status pending, the reason in Error.
func (s *Scheduler) TriggerSchedule(ctx context.Context, id string, force bool) (store.Execution, error) {
	s.mu.Lock()
	e, ok := s.entries[id]
	if !ok {
		s.mu.Unlock()
		return store.Execution{}, fmt.Errorf("schedule %q: %w", id, store.ErrNotFound)
	}
	now := s.now()
	w := store.Writes{}
	var ex *execution
	var answer store.Execution // copied now: once launched, ex.rec is its goroutine's
	pol := e.policy()
	switch {
	case !force && len(e.running) > 0 && (pol.Overlap == "" || pol.Overlap == store.OverlapSkip):
		// A skip asked for by hand is written at once, with its own
		// record, so that the answer can name it; timer fires batch
		// theirs (skipLocked).
		e.rec.MissedCount++
		w.Executions = s.missedRecords(e, []missedRun{{now, s.busyReasonLocked(e) + " (overlap policy skip; --force runs it anyway)"}}, 0, now, 1)
	default:
		before := e.queued()
		if ex = s.admitLocked(e, now, now, force, &w); ex != nil {
			w.Executions = append(w.Executions, ex.rec)
			answer = ex.rec
		} else if len(w.Executions) == 0 && e.queued() > before {
			answer = store.Execution{
				ScheduleID: id, HandlerID: e.rec.HandlerID, Method: e.rec.Method, Status: store.StatusPending, ScheduledAt: now,
				Error: fmt.Sprintf("queued behind %s (overlap policy queue; %d waiting)", strings.TrimPrefix(s.busyReasonLocked(e), "the "), e.queued()),
			}
		}
	}
	if ex == nil {
		w.ScheduleStates = append(w.ScheduleStates, e.record()) // its missed count
	}
	var starts []*execution
	if ex != nil {
		starts = append(starts, ex)
	}
	gate := s.commitAndLaunchLocked(w, starts...)
	s.mu.Unlock()
	// The answer is given only once its record is durable.
	if err := gate.wait(ctx); err != nil {
		return store.Execution{}, fmt.Errorf("schedule %q: run now: %w", id, err)
	}
	if ex == nil && len(w.Executions) > 0 {
		return w.Executions[0], nil // recorded as missed, with the reason
	}
	return answer, nil
}

// RunNow calls a handler once, records it, and waits for the final attempt.
func (s *Scheduler) RunNow(ctx context.Context, req schedtype.RunRequest) (store.Execution, error) {
	if req.HandlerID == "" {
		return store.Execution{}, field.Errorf("handler_id", "is required")
	}
	if req.Method == "" {
		return store.Execution{}, field.Errorf("job_method", "is required")
	}
	if err := s.checkMethod(req.HandlerID, req.Method); err != nil {
		return store.Execution{}, err
	}
	if req.MaxAttempts < 0 || req.MaxAttempts > maxAttemptsLimit {
		return store.Execution{}, field.Errorf("max_attempts", "is %d", req.MaxAttempts).WithFix("use 1 to %d", maxAttemptsLimit)
	}
	attempts := req.MaxAttempts
	if attempts == 0 {
		attempts = 1 // a blocking call: the caller decides whether to retry
	}
	s.mu.Lock()
	now := s.now()
	ex := s.newExecution(req.HandlerID, req.Method, req.Params, attempts, s.timeout(req.Timeout), now)
	s.claimLocked(ex, now)
	s.commitAndLaunchLocked(store.Writes{Executions: []store.Execution{ex.rec}}, ex)
	s.mu.Unlock()
	select {
	case <-ex.done:
		if ex.final.ID == "" {
			return store.Execution{}, fmt.Errorf("execution %s: %w; it runs after the restart", ex.rec.ID, errStopping)
		}
		return ex.final, nil
	case <-ctx.Done():
		return store.Execution{}, fmt.Errorf("execution %s still running: %w", ex.rec.ID, ctx.Err())
	}
}

// RemoveHandler forgets handler id (schedulezero handlers remove, after the
// governor stopped it): it is no longer listed or sent jobs, and fires of
// its schedules are recorded missed, saying so, until it registers again.
func (s *Scheduler) RemoveHandler(ctx context.Context, id string) error {
	return s.reg.Remove(ctx, id)
}

// Handlers lists every known handler with its live health, removed ones
// included (Status "removed"), so that their schedules can be flagged.
func (s *Scheduler) Handlers(context.Context) ([]schedtype.HandlerStatus, error) {
	views := s.reg.snapshot()
	out := make([]schedtype.HandlerStatus, len(views))
	for i, v := range views {
		out[i] = schedtype.HandlerStatus{Handler: v.rec, InFlight: v.inFlight, LatencyMS: v.latencyMS, ErrorRate: v.errorRate,
			Instances: make([]schedtype.InstanceStatus, len(v.instances))}
		for j, in := range v.instances {
			out[i].Instances[j] = schedtype.InstanceStatus{ID: in.id, Host: in.host, Address: in.address, Labels: in.labels,
				Status: in.status, Healthy: in.healthy, InFlight: in.inFlight, Limit: in.limit,
				LatencyMS: in.latencyMS, ErrorRate: in.errorRate, LastSeen: in.lastSeen}
		}
	}
	return out, nil
}

// Executions lists history.
func (s *Scheduler) Executions(ctx context.Context, f store.ExecutionFilter) ([]store.Execution, error) {
	return s.db.ListExecutions(ctx, f)
}

// ExecutionPage lists one page of history.
func (s *Scheduler) ExecutionPage(ctx context.Context, f store.ExecutionFilter) (store.ExecutionPage, error) {
	return s.db.ListExecutionsPage(ctx, f)
}

// Stats summarises history.
func (s *Scheduler) Stats(ctx context.Context) (store.Stats, error) { return s.db.Stats(ctx) }

// ClearExecutions empties history.
func (s *Scheduler) ClearExecutions(ctx context.Context) error { return s.db.ClearExecutions(ctx) }

// maxBackfill bounds one backfill.
const maxBackfill = 1000

// Backfill queues every occurrence of a schedule in [from, to] to run in
// order, one after another, after anything already running.
func (s *Scheduler) Backfill(_ context.Context, id string, from, to time.Time) (schedtype.BackfillResult, error) {
	if from.IsZero() || to.IsZero() {
		return schedtype.BackfillResult{}, field.Errorf("from", "and to are both required").WithFix("give RFC 3339 times, e.g. 2026-01-01T00:00:00Z")
	}
	if to.Before(from) {
		return schedtype.BackfillResult{}, field.Errorf("to", "is before from")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[id]
	if !ok {
		return schedtype.BackfillResult{}, fmt.Errorf("schedule %q: %w", id, store.ErrNotFound)
	}
	trig, ok := s.triggerLocked(e)
	if !ok {
		return schedtype.BackfillResult{}, fmt.Errorf("schedule %q: its trigger does not compile", id)
	}
	var occs []time.Time
	for t, ok := trig.Next(from.Add(-time.Nanosecond)); ok && !t.After(to); t, ok = trig.Next(t) {
		if len(occs) == maxBackfill {
			return schedtype.BackfillResult{}, field.Errorf("to", "the range holds more than %d occurrences", maxBackfill).WithFix("backfill a shorter range at a time")
		}
		occs = append(occs, t)
	}
	for _, o := range occs {
		e.queue(o, "backfill")
	}
	if len(e.running) == 0 && e.queued() > 0 {
		item := e.dequeue()
		w := store.Writes{}
		var starts []*execution
		if ex := s.admitLocked(e, item.occ, s.now(), true, &w); ex != nil {
			w.Executions = append(w.Executions, ex.rec)
			starts = append(starts, ex)
		}
		s.commitAndLaunchLocked(w, starts...)
	}
	s.logger.Info("backfill queued", "schedule_id", id, "occurrences", len(occs))
	return schedtype.BackfillResult{ScheduleID: id, Occurrences: occs}, nil
}

// UpdateSchedule edits a schedule in place; its history stays with its id.
func (s *Scheduler) UpdateSchedule(_ context.Context, id string, u schedtype.ScheduleUpdate) (store.Schedule, error) {
	s.mu.Lock()
	e, ok := s.entries[id]
	if !ok {
		s.mu.Unlock()
		return store.Schedule{}, fmt.Errorf("schedule %q: %w", id, store.ErrNotFound)
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
	if s.entries[id] != e {
		s.mu.Unlock()
		return store.Schedule{}, fmt.Errorf("schedule %q changed during the edit: %w", id, store.ErrNotFound)
	}
	before := e.record()
	// Counters and state that moved meanwhile stay the engine's.
	rec.FireCount, rec.MissedCount, rec.LastFire = e.rec.FireCount, e.rec.MissedCount, e.rec.LastFire
	rec.Paused, rec.PausedAt = e.rec.Paused, e.rec.PausedAt
	if u.Trigger == nil && u.Timezone == nil {
		rec.NextFire, rec.Done = e.rec.NextFire, e.rec.Done
	}
	rec.UpdatedAt = now
	e.set(rec)
	e.trig, e.broken = trig, false
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
		if s.entries[id] == e {
			e.set(before)
			s.heap.place(e)
		}
		s.mu.Unlock()
		return fmt.Errorf("schedule %q: %w", id, err)
	}
	return nil
}

// ScheduleCounts are the schedules by state, for a metrics scrape.
type ScheduleCounts struct {
	Active, Paused, Done int
	// Overdue counts the active schedules whose next fire is more than
	// a minute past: the engine is not keeping up, or not turning.
	Overdue int
}

// CountSchedules counts the schedules by state at now, without copying
// them: a metrics scrape calls it.
func (s *Scheduler) CountSchedules(now time.Time) ScheduleCounts {
	var c ScheduleCounts
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.entries {
		switch {
		case e.rec.Done:
			c.Done++
		case e.rec.Paused:
			c.Paused++
		default:
			c.Active++
			if !e.rec.NextFire.IsZero() && now.Sub(e.due()) > time.Minute {
				c.Overdue++
			}
		}
	}
	return c
}
