package scheduler

import (
	"fmt"
	"strings"
	"time"

	"github.com/schedulezero/schedulezero/pkg/store"
)

// fireLocked handles e's due occurrence and any others that became due with
// it. It advances e past now, applies the misfire policy to occurrences
// that are later than the grace time, the overlap policy to each run, and
// commits the schedule, the new attempts and the missed records together.
// The caller holds s.mu.
func (s *Scheduler) fireLocked(e *entry, now time.Time) {
	trig, ok := s.triggerLocked(e)
	if !ok {
		return // out of the heap now
	}
	pol := e.policy()
	grace := pol.GraceTime
	if grace <= 0 {
		grace = DefaultGraceTime
	}
	first := e.rec.NextFire
	if s.opts.LatenessFunc != nil {
		s.opts.LatenessFunc(e.rec.HandlerID, now.Sub(first.Add(e.offset())))
	}

	// Every occurrence due by now, in order (bounded), and the first after.
	due := []time.Time{first}
	var extra int64 // due occurrences beyond the enumeration bound
	next, ok := trig.Next(first)
	for ok && !next.Add(e.offset()).After(now) {
		if len(due) < maxEnumerate {
			due = append(due, next)
		} else {
			extra++
			if extra > maxEnumerate { // a clock far in the future: stop walking
				next, ok = trig.Next(now.Add(-e.offset()))
				break
			}
		}
		next, ok = trig.Next(next)
	}
	if ok {
		e.rec.NextFire = next
	} else {
		e.rec.NextFire, e.rec.Done = time.Time{}, true
	}

	// Which run: the on-time one, or what the misfire policy says.
	late := now.Sub(first.Add(e.offset())) > grace
	if s.busyLocked(e) && pol.Misfire != store.MisfireAll && (!late || s.missReason(e, first) == lateReason) {
		s.skipFireLocked(e, due, extra, now)
		return
	}
	var runs []time.Time
	var missed []missedRun
	// An outage or a pause gets a record per occurrence (up to
	// maxMissedRecords); lateness of a running engine (overload, a clock
	// jump) gets one record per fire, so that an overloaded engine does not
	// bury its disk under records of its own lateness.
	each := maxMissedRecords
	switch {
	case !late && len(due) == 1:
		runs = due
	default:
		reason := s.missReason(e, first)
		if reason == lateReason {
			each = 0
		}
		last := due[len(due)-1]
		lastOnTime := now.Sub(last.Add(e.offset())) <= grace
		switch pol.Misfire {
		case store.MisfireSkip:
			if lastOnTime {
				runs, due = due[len(due)-1:], due[:len(due)-1]
			}
			missed = missedAll(due, reason+" (misfire policy skip)")
		case store.MisfireAll:
			limit := pol.MisfireLimit
			if limit <= 0 {
				limit = DefaultMisfireLimit
			}
			n := min(limit, len(due))
			runs = due[:n]
			missed = missedAll(due[n:], fmt.Sprintf("%s; beyond the catch-up limit of %d (misfire policy all)", reason, limit))
		default: // once
			runs = due[len(due)-1:]
			missed = missedAll(due[:len(due)-1], reason+"; coalesced into one run (misfire policy once)")
		}
	}
	e.rec.MissedCount += int64(len(missed)) + extra
	if !e.rec.Paused {
		e.rec.PausedAt = time.Time{} // it has served to name the reason
	}

	w := store.Writes{}
	w.Executions = append(w.Executions, s.missedRecords(e, missed, extra, now, each)...)
	var starts []*execution
	catchUp := len(runs) > 1
	for i, occ := range runs {
		if pol.MaxRuns > 0 && e.rec.FireCount >= pol.MaxRuns {
			e.rec.NextFire, e.rec.Done = time.Time{}, true
			break
		}
		e.rec.LastFire = occ
		e.rec.FireCount++
		if catchUp && i > 0 {
			e.queue(occ, "catch-up")
			continue
		}
		if ex := s.admitLocked(e, occ, now, false, &w); ex != nil {
			w.Executions = append(w.Executions, ex.rec)
			starts = append(starts, ex)
		}
	}
	if pol.MaxRuns > 0 && e.rec.FireCount >= pol.MaxRuns {
		e.rec.NextFire, e.rec.Done = time.Time{}, true
	}
	s.heap.place(e)
	w.ScheduleStates = append(w.ScheduleStates, e.record()) // its firing state is all that changed
	e.dirty = false                                         // skips not written yet wait for flushSkipsLocked
	s.commitAndLaunchLocked(w, starts...)
}

// busyLocked reports whether a fire of e now would be skipped by the
// overlap policy: its previous run is still going and the policy is skip.
func (s *Scheduler) busyLocked(e *entry) bool {
	if len(e.running) == 0 {
		return false
	}
	o := e.policy().Overlap
	return o == "" || o == store.OverlapSkip
}

// skipFireLocked is fireLocked for a schedule whose run is still going
// under overlap policy skip: every occurrence due now is skipped, late or
// not (it could not have run either way). Nothing is written now: the
// skips are counted in e (skipLocked), and the schedule and one record of
// them are written with the schedule's next fire or by flushSkipsLocked
// within skipFlushInterval. An engine that cannot keep up skips many
// fires, and writes for each would take the disk from the runs that do
// complete. Should the scheduler crash before they are written, the count
// is lost, and after the restart those occurrences are recorded as missed
// while it was down: still recorded, under another reason. The caller
// holds s.mu and has advanced e.rec.NextFire.
func (s *Scheduler) skipFireLocked(e *entry, due []time.Time, extra int64, now time.Time) {
	pol := e.policy()
	if pol.MaxRuns <= 0 || e.rec.FireCount < pol.MaxRuns {
		e.rec.LastFire = due[len(due)-1]
		e.rec.FireCount++
	}
	if pol.MaxRuns > 0 && e.rec.FireCount >= pol.MaxRuns {
		e.rec.NextFire, e.rec.Done = time.Time{}, true
	}
	e.rec.MissedCount += int64(len(due)) + extra
	if !e.rec.Paused {
		e.rec.PausedAt = time.Time{}
	}
	s.heap.place(e)
	s.skipLocked(e, due[0], due[len(due)-1], now, int64(len(due))+extra)
	if e.rec.Done {
		s.commitAndLaunchLocked(store.Writes{ScheduleStates: []store.Schedule{e.record()}, Executions: []store.Execution{s.skipRecord(e)}})
		e.clearSkips()
		e.dirty = false
	}
}

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
	case !e.rec.PausedAt.IsZero() && !first.Before(e.rec.PausedAt):
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
			ID: s.ids.next(now), Attempt: 1, ScheduleID: e.rec.ID, HandlerID: e.rec.HandlerID, Method: e.rec.Method,
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
	s.logger.Warn("occurrences missed", "schedule_id", e.rec.ID, "count", int64(len(missed))+extra, "reason", missed[0].reason)
	return out
}

// admitLocked applies the overlap policy to a run of e for occurrence occ
// and returns the execution to start, or nil when the run was queued or
// skipped (a skip is added to w as a missed record). force bypasses the
// policy (run now --force). The caller holds s.mu.
func (s *Scheduler) admitLocked(e *entry, occ, now time.Time, force bool, w *store.Writes) *execution {
	pol := e.policy()
	if h, ok := s.reg.get(e.rec.HandlerID); ok && h.removed() {
		// Nothing will ever take it: say so now rather than wait for a
		// deadline, and keep no attempt waiting.
		e.rec.MissedCount++
		w.Executions = append(w.Executions, s.missedRecords(e, []missedRun{{occ, removedReason(e.rec.HandlerID)}}, 0, now, 1)...)
		return nil
	}
	if len(e.running) > 0 && !force {
		switch pol.Overlap {
		case store.OverlapAllow:
		case store.OverlapQueue:
			limit := pol.QueueLimit
			if limit <= 0 {
				limit = DefaultQueueLimit
			}
			if e.queued() < limit {
				e.queue(occ, "queued")
				return nil
			}
			e.rec.MissedCount++
			w.Executions = append(w.Executions, s.missedRecords(e, []missedRun{{occ, fmt.Sprintf("%s and the queue was full (%d)", s.busyReasonLocked(e), limit)}}, 0, now, 1)...)
			return nil
		case store.OverlapReplace:
			for _, ex := range e.running {
				ex.abort(errReplaced)
			}
		default: // skip
			e.rec.MissedCount++
			s.skipLocked(e, occ, occ, now, 1)
			return nil
		}
	}
	ex := s.newExecution(e.rec.HandlerID, e.rec.Method, e.rec.Params, s.attempts(e.rec.MaxAttempts), s.timeout(e.rec.Timeout), now)
	ex.rec.ScheduleID = e.rec.ID
	ex.rec.ScheduledAt = occ
	ex.entry = e
	ex.policy = pol
	if d := pol.RandomDelay; d > 0 {
		ex.delay = randDuration(d)
	} else {
		s.claimLocked(ex, now)
	}
	e.addRunning(ex)
	return ex
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
		if s.entries[e.rec.ID] != e {
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
	for k := range e.running {
		if id == "" || k < id {
			id = k
		}
	}
	if h, ok := s.reg.get(e.rec.HandlerID); ok {
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

// claimLocked takes a handler slot for ex's first attempt when one is free
// now, so that the attempt is recorded running in the same commit that
// records the fire, and sent as soon as that commit is durable.
func (s *Scheduler) claimLocked(ex *execution, now time.Time) {
	if s.stopping {
		// Nothing is launched (commitAndLaunchLocked): the fire must be
		// recorded pending, to be dispatched after the restart, not
		// running, which the restart would take for interrupted.
		return
	}
	h, ok := s.reg.get(ex.rec.HandlerID)
	if !ok {
		// Recorded pending with the reason; attempt waits for it.
		ex.rec.Error = fmt.Sprintf("waiting for handler %q, which has not registered", ex.rec.HandlerID)
		return
	}
	conn := h.tryAcquire(ex.policy.On)
	if conn == nil {
		ex.rec.Error = h.waitReason(ex.policy.On)
		return
	}
	ex.giveSlot(h, conn)
	ex.rec.Status = store.StatusRunning
	ex.rec.StartedAt = now
	if s.afterClaim != nil {
		s.afterClaim()
	}
}

// commitAndLaunchLocked queues w for commit and starts starts, the new
// executions whose first records w holds: on the fast path (see async.go)
// the commit's callback sends them, else a goroutine waits for the commit.
// Nothing is sent before the commit is durable.
// The caller holds s.mu, which orders this commit after every earlier
// change to the same schedules.
func (s *Scheduler) commitAndLaunchLocked(w store.Writes, starts ...*execution) *commitGate {
	gate := s.newCommitGate()
	settle := func(err error) {
		// Published before the fast executions are sent, so that an
		// attempt's start comes before its end.
		if err == nil {
			s.emitExecutions(w.Executions)
		}
		gate.settle(err)
	}
	if s.stopping {
		s.db.CommitAsync(w, settle)
		s.lastGate = gate
		// Recorded pending; the next start dispatches them.
		for _, ex := range starts {
			ex.abort(errStopping)
			ex.releaseSlot()
			if ex.entry != nil {
				ex.entry.removeRunning(ex)
			}
			close(ex.done)
		}
		return gate
	}
	// Everything about the executions is settled before the commit is
	// queued: once it is durable, a fast one may run to its end at once
	// (its end waits for s.mu, which is held here).
	var slow []*execution
	for _, ex := range starts {
		s.running[ex.rec.ID] = ex
		s.execWG.Add(1)
		if fastPath(ex) {
			gate.fast = append(gate.fast, ex)
		} else {
			slow = append(slow, ex)
		}
	}
	s.db.CommitAsync(w, settle)
	s.lastGate = gate
	for _, ex := range slow {
		go s.run(ex, gate)
	}
	return gate
}

// finishedLocked is called when ex ends: it leaves its schedule's running
// set, and the schedule's backlog gets its next run. The caller holds s.mu.
func (s *Scheduler) finishedLocked(ex *execution) {
	delete(s.running, ex.rec.ID)
	e := ex.entry
	if e == nil {
		return
	}
	e.removeRunning(ex)
	if e.running != nil {
		return
	}
	w := store.Writes{}
	var starts []*execution
	if e.queued() > 0 && s.entries[e.rec.ID] == e {
		item := e.dequeue()
		if next := s.admitLocked(e, item.occ, s.now(), true, &w); next != nil {
			w.Executions = append(w.Executions, next.rec)
			starts = append(starts, next)
		}
	}
	if len(w.Executions) > 0 {
		s.commitAndLaunchLocked(w, starts...)
	}
}
