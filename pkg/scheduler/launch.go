package scheduler

import (
	"fmt"
	"time"

	"github.com/schedulezero/schedulezero/pkg/store"
	"github.com/schedulezero/schedulezero/pkg/wire"
)

// admitLocked applies the overlap policy to a run of e for occurrence occ
// and returns the execution to start, or nil when the run was queued or
// skipped (a skip is added to w as a missed record). force bypasses the
// policy (run now --force). The caller holds s.mu.
func (s *Scheduler) admitLocked(e *entry, occ, now time.Time, force bool, w *store.Writes) *execution {
	pol := e.policy()
	if h, ok := s.reg.get(e.rec.HandlerID()); ok && h.removed() {
		// Nothing will ever take it: say so now rather than wait for a
		// deadline, and keep no attempt waiting.
		e.rec.MissedCount++
		w.Executions = append(w.Executions, s.missedRecords(e, []missedRun{{occ, removedReason(e.rec.HandlerID())}}, 0, now, 1)...)
		return nil
	}
	if len(e.runs()) > 0 && !force {
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
			for _, r := range e.runs() {
				r.ex.abort(errReplaced)
			}
		default: // skip
			e.rec.MissedCount++
			s.skipLocked(e, occ, occ, now, 1)
			return nil
		}
	}
	ex := s.newExecution(e.rec.HandlerID(), e.rec.Method(), e.rec.Params(), s.attempts(e.rec.MaxAttempts()), s.timeout(e.rec.Timeout()), now)
	ex.rec.ScheduleID = e.rec.ID()
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
	ex.bounded = true
	s.bounded++
	h.place(&ex.rec, conn)
	ex.rec.Status = store.StatusRunning
	ex.rec.StartedAt = now
	if s.afterClaim != nil {
		s.afterClaim()
	}
}

// commitAndLaunchLocked queues w for commit and launches starts, the new
// executions whose first records w holds: the commit's callback hands
// them to dispatch, which sends them or starts their goroutines. Nothing
// is sent before the commit is durable.
// The caller holds s.mu, which orders this commit after every earlier
// change to the same schedules.
func (s *Scheduler) commitAndLaunchLocked(w store.Writes, starts ...*execution) *commitGate {
	return s.commitGateLocked(s.newCommitGate(), w, starts)
}

// commitGateLocked is commitAndLaunchLocked with the gate made by the
// caller, who may have put w's and starts' storage in it (fireLocked).
func (s *Scheduler) commitGateLocked(gate *commitGate, w store.Writes, starts []*execution) *commitGate {
	gate.w = w
	if s.stopping {
		s.db.CommitAsync(w, gate.settle)
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
	// queued: once it is durable, one may run to its end at once (its end
	// waits for s.mu, which is held here).
	for _, ex := range starts {
		s.running[ex.rec.ID] = ex
		s.execWG.Add(1)
	}
	gate.starts = starts
	s.db.CommitAsync(w, gate.settle)
	s.lastGate = gate
	return gate
}

// appendStart appends ex's first record to the records of its fire's
// commit: into ex's own storage when it is the first and only one so far.
func appendStart(recs []store.Execution, ex *execution) []store.Execution {
	if cap(recs) == 0 {
		ex.out[0] = ex.rec
		return ex.out[:]
	}
	return append(recs, ex.rec)
}

// dispatch launches the executions of g's commit, now durable: each that
// holds a slot and has nothing to wait for first is sent at once (send),
// one that waits only for a slot joins its handler's queue (waitForSlot);
// the others, or all when the commit failed, continue on the goroutine
// path (run).
func (s *Scheduler) dispatch(g *commitGate) {
	err := g.result()
	for _, ex := range g.starts {
		switch {
		case err == nil && ex.conn == nil && ex.delay == 0 && !ex.recovering:
			s.waitForSlot(ex)
		case err != nil || !s.send(ex):
			go s.run(ex, err)
		}
	}
}

// send starts ex's first attempt with Go and reports whether it did: not
// when ex waits for a slot, a delay or a recovery, or was cancelled.
func (s *Scheduler) send(ex *execution) bool {
	if ex.conn == nil || ex.delay > 0 || ex.recovering {
		return false
	}
	start := s.now()
	req := s.request(ex, start)
	ex.mu.Lock()
	defer ex.mu.Unlock()
	if ex.cause != nil {
		return false
	}
	ex.abortCall = ex.conn.Go(req, ex.timeout, func(r wire.Reply, err error) { s.replied(ex, req, start, r, err) })
	return true
}

// finishedLocked is called when ex ends: it leaves its schedule's running
// set, and the schedule's backlog gets its next run. The caller holds s.mu.
func (s *Scheduler) finishedLocked(ex *execution) {
	delete(s.running, ex.rec.ID)
	if ex.bounded {
		ex.bounded = false
		s.bounded--
	}
	// A throttled loop resumes once an eighth of the bound is free, so
	// that it fires a batch, not one fire per end.
	if s.throttled && s.bounded <= s.opts.MaxInFlight-max(1, s.opts.MaxInFlight/8) {
		s.throttled = false
		s.Nudge()
	}
	e := ex.entry
	if e == nil {
		return
	}
	e.removeRunning(ex)
	if len(e.runs()) > 0 {
		return
	}
	w := store.Writes{}
	var starts []*execution
	switch {
	case e.queued() == 0:
	case s.entries.get(e.rec.ID()) == e:
		if next := s.admitQueuedLocked(e, e.dequeue(), s.now(), &w); next != nil {
			w.Executions = append(w.Executions, next.rec)
			starts = append(starts, next)
		}
	default:
		s.dropBacklogLocked(e, s.now(), &w)
	}
	if len(w.Executions) > 0 {
		s.commitAndLaunchLocked(w, starts...)
	}
}
