package scheduler

import (
	"time"

	"github.com/schedulezero/schedulezero/pkg/store"
)

// A catch-up (misfire policy all) runs the occurrences of an outage one
// after the other, the first at once and the others queued behind it in
// the schedule's backlog. The schedule's firing state has moved past them
// all when the first fires, so a backlog held only in memory would be
// lost with the engine (a kill, a stop, a failover): each queued one is
// recorded pending in the commit of the fire, and its backlog item carries
// the record's id. Dequeued, it runs under that id; after a restart,
// recover finds it pending and runs it, behind the schedule's other
// unfinished runs.

// catchUpReason is the error a queued catch-up record shows while it waits.
const catchUpReason = "queued behind the schedule's previous run: a catch-up run (misfire policy all)"

// queueCatchUpLocked records a pending execution for occ in w and queues
// it in e's backlog. The caller holds s.mu.
func (s *Scheduler) queueCatchUpLocked(e *entry, occ, now time.Time, w *store.Writes) {
	rec := s.newExecution(e.rec.HandlerID(), e.rec.Method(), e.rec.Params(), s.attempts(e.rec.MaxAttempts()), s.timeout(e.rec.Timeout()), now).rec
	rec.ScheduleID = e.rec.ID()
	rec.ScheduledAt = occ
	rec.Error = catchUpReason
	w.Executions = append(w.Executions, rec)
	e.queueRecorded(occ, "catch-up", rec.ID)
}

// admitQueuedLocked is admitLocked for an item of e's backlog: one
// recorded pending when it was queued runs under that record's id. The
// caller holds s.mu.
func (s *Scheduler) admitQueuedLocked(e *entry, item backlogItem, now time.Time, w *store.Writes) *execution {
	if item.id == "" {
		return s.admitLocked(e, item.occ, now, true, w)
	}
	if h, ok := s.reg.get(e.rec.HandlerID()); ok && h.removed() {
		e.rec.MissedCount++
		w.Executions = append(w.Executions, s.queuedMissed(e, item, now, removedReason(e.rec.HandlerID())))
		return nil
	}
	ex := s.admitLocked(e, item.occ, now, true, w)
	// Under the id of its pending record, which it replaces.
	e.removeRunning(ex)
	ex.rec.ID = item.id
	e.addRunning(ex)
	return ex
}

// dropBacklogLocked records missed the queued catch-up runs of e, an entry
// replaced or removed (its backlog is never run), so that none stays
// pending. The caller holds s.mu.
func (s *Scheduler) dropBacklogLocked(e *entry, now time.Time, w *store.Writes) {
	for e.queued() > 0 {
		if item := e.dequeue(); item.id != "" {
			w.Executions = append(w.Executions, s.queuedMissed(e, item, now, "its schedule was changed or removed before this catch-up run"))
		}
	}
}

// queuedMissed is the missed record of a queued catch-up run, under its id.
func (s *Scheduler) queuedMissed(e *entry, item backlogItem, now time.Time, reason string) store.Execution {
	return store.Execution{
		ID: item.id, Attempt: 1, ScheduleID: e.rec.ID(), HandlerID: e.rec.HandlerID(), Method: e.rec.Method(),
		Status: store.StatusMissed, ScheduledAt: item.occ, CompletedAt: now, Error: reason,
	}
}

// queueRecoveredLocked queues rec, an unfinished execution of e found at a
// restart that is to run again from the start, behind a run of e
// recovered before it, unless e's overlap policy allows runs at once; it
// reports whether it did. The caller holds s.mu.
func (s *Scheduler) queueRecoveredLocked(e *entry, rec *store.Execution) bool {
	// A later attempt is not queued: run from the backlog it would be
	// attempt 1 again, under the id of its earlier attempts.
	if rec.Attempt != 1 || len(e.runs()) == 0 || e.policy().Overlap == store.OverlapAllow {
		return false
	}
	rec.Status = store.StatusPending
	rec.StartedAt, rec.CompletedAt = time.Time{}, time.Time{}
	rec.DurationMS, rec.Result, rec.Error = 0, nil, "queued behind the schedule's previous run, recovered after a restart"
	rec.Instance, rec.Host = "", ""
	e.queueRecorded(rec.ScheduledAt, "catch-up", rec.ID)
	return true
}
