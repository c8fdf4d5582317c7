package scheduler

import (
	"fmt"
	"strings"
	"time"

	"github.com/schedulezero/schedulezero/pkg/store"
)

type missedRun struct {
	occ    time.Time
	reason string
}

func missedAll(occs []time.Time, reason string) []missedRun {
	out := make([]missedRun, len(occs))
	for i, o := range occs {
		out[i] = missedRun{o, reason}
	}
	return out
}

const lateReason = "the engine fired late (clock jump or overload)"

// missReason says why occurrences from first on did not run on time.
func (s *Scheduler) missReason(e *entry, first time.Time) string {
	switch {
	case !e.pausedAt().IsZero() && !first.Before(e.pausedAt()):
		return "the schedule was paused"
	case first.Before(s.startedAt):
		return "the scheduler was not running"
	default:
		return lateReason
	}
}

// missedRecords turns missed occurrences into history records: one each up
// to each of them, then one record on the last that sums up the rest (with
// each 0, that one record covers them all).
func (s *Scheduler) missedRecords(e *entry, missed []missedRun, extra int64, now time.Time, each int) []store.Execution {
	if len(missed) == 0 && extra == 0 {
		return nil
	}
	rec := func(occ time.Time, reason string) store.Execution {
		return store.Execution{
			ID: s.ids.next(now), Attempt: 1, ScheduleID: e.rec.ID(), HandlerID: e.rec.HandlerID(), Method: e.rec.Method(),
			Status: store.StatusMissed, ScheduledAt: occ, CompletedAt: now, Error: reason,
		}
	}
	n := min(len(missed), each)
	out := make([]store.Execution, 0, n+1)
	for _, m := range missed[:n] {
		out = append(out, rec(m.occ, m.reason))
	}
	last := missed[len(missed)-1]
	switch rest := int64(len(missed)-n) + extra; {
	case rest > 0 && n > 0:
		out = append(out, rec(last.occ, fmt.Sprintf("%d more occurrences up to this one were missed too: %s", rest, last.reason)))
	case rest > 1:
		out = append(out, rec(last.occ, fmt.Sprintf("%d occurrences from %s to this one did not run: %s", rest, missed[0].occ.Format(time.RFC3339Nano), last.reason)))
	case rest == 1:
		out = append(out, rec(last.occ, last.reason))
	}
	s.logger.Warn("occurrences missed", "schedule_id", e.rec.ID(), "count", int64(len(missed))+extra, "reason", missed[0].reason)
	return out
}

// skipFlushInterval bounds how long skips (and the schedule changes of
// skipped fires) wait in memory before flushSkipsLocked writes them.
const skipFlushInterval = 5 * time.Second

// skipLocked counts n occurrences, from from to to, as skipped by the
// overlap policy. They are written as one record (skipRecord) with the
// schedule's next write, or by flushSkipsLocked; its reason is taken at
// the first skip (an overloaded engine skips often). The caller holds s.mu.
func (s *Scheduler) skipLocked(e *entry, from, to, now time.Time, n int64) {
	why := ""
	if e.skipped() == nil {
		why = s.busyReasonLocked(e)
	}
	e.addSkips(from, to, now, n, why)
	e.dirty = true
	if !e.flushing {
		e.flushing = true
		s.dirty = append(s.dirty, e)
	}
	if s.flushAt.IsZero() {
		s.flushAt = now.Add(skipFlushInterval)
		s.Nudge() // the loop's timer learns of the flush
	}
}

// flushSkipsLocked writes, in one commit, the schedules changed by skipped
// fires and the records of their skips. The caller holds s.mu.
func (s *Scheduler) flushSkipsLocked() {
	var w store.Writes
	for _, e := range s.dirty {
		e.flushing = false
		if s.entries.get(e.rec.ID()) != e {
			continue // deleted
		}
		if e.dirty {
			w.ScheduleStates = append(w.ScheduleStates, e.record())
		}
		if e.skipped() != nil {
			w.Executions = append(w.Executions, s.skipRecord(e))
		}
		e.clearSkips()
		e.dirty = false
	}
	clear(s.dirty)
	s.dirty, s.flushAt = s.dirty[:0], time.Time{}
	if len(w.ScheduleStates) > 0 || len(w.Executions) > 0 {
		s.commitAndLaunchLocked(w)
	}
}

// skipRecord is the missed record of the occurrences e skipped during its
// last run.
func (s *Scheduler) skipRecord(e *entry) store.Execution {
	sk := e.skipped()
	reason := sk.why + " (overlap policy skip)"
	msg := reason
	if sk.n > 1 {
		msg = fmt.Sprintf("%d occurrences from this one to %s were skipped: %s",
			sk.n, sk.to.Format(time.RFC3339Nano), reason)
	}
	return s.missedRecords(e, []missedRun{{sk.from, msg}}, 0, sk.at, 1)[0]
}

// busyReasonLocked says why e's previous run keeps a new fire from
// starting: it is running, or it has not started because its handler is
// offline, removed or at its limit. The caller holds s.mu.
func (s *Scheduler) busyReasonLocked(e *entry) string {
	id := ""
	for _, r := range e.runs() {
		if k := r.id; id == "" || k < id {
			id = k
		}
	}
	if h, ok := s.reg.get(e.rec.HandlerID()); ok {
		if why := h.waitReason(e.policy().On); why != "" && !strings.HasPrefix(why, "waiting for a free slot") {
			return fmt.Sprintf("the previous run (%s) has not started: %s", id, why)
		}
	}
	return fmt.Sprintf("the previous run (%s) was still running", id)
}

// removedReason is the reason recorded for a fire of a schedule whose
// handler was removed.
func removedReason(handler string) string {
	return fmt.Sprintf("handler %q was removed (schedulezero handlers remove); add it again or delete the schedule", handler)
}
