package scheduler

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/schedulezero/schedulezero/pkg/event"
	"github.com/schedulezero/schedulezero/pkg/field"
	"github.com/schedulezero/schedulezero/pkg/scheduler/schedtype"
	"github.com/schedulezero/schedulezero/pkg/store"
)

// PauseSchedule stops a schedule from firing until it is resumed.
func (s *Scheduler) PauseSchedule(_ context.Context, id string) (store.Schedule, error) {
	return s.update(id, event.SchedulePaused, func(e *entry, now time.Time) error {
		if !e.rec.Paused {
			e.rec.Paused = true
			e.setPausedAt(now)
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
	e, err := s.entryLocked(id)
	if err != nil {
		s.mu.Unlock()
		return store.Schedule{}, err
	}
	before := e.record()
	now := s.now()
	if err := fn(e, now); err != nil {
		s.mu.Unlock()
		return store.Schedule{}, err
	}
	e.rec.SetUpdatedAt(now)
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
	e, err := s.entryLocked(id)
	if err != nil {
		s.mu.Unlock()
		return store.Execution{}, err
	}
	now := s.now()
	w := store.Writes{}
	var ex *execution
	var answer store.Execution // copied now: once launched, ex.rec is its goroutine's
	pol := e.policy()
	switch {
	case !force && len(e.runs()) > 0 && (pol.Overlap == "" || pol.Overlap == store.OverlapSkip):
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
				ScheduleID: id, HandlerID: e.rec.HandlerID(), Method: e.rec.Method(), Status: store.StatusPending, ScheduledAt: now,
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
	e, err := s.entryLocked(id)
	if err != nil {
		return schedtype.BackfillResult{}, err
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
	if len(e.runs()) == 0 && e.queued() > 0 {
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
