package scheduler

import (
	"fmt"
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
	first := e.rec.NextFire()
	if s.opts.LatenessFunc != nil {
		s.opts.LatenessFunc(e.rec.HandlerID(), now.Sub(first.Add(e.offset())))
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
		e.rec.SetNextFire(next)
	} else {
		e.rec.SetNextFire(time.Time{})
		e.rec.Done = true
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
		e.setPausedAt(time.Time{}) // it has served to name the reason
	}

	gate := s.newCommitGate() // holds the storage of w's state and of starts
	w := store.Writes{Executions: s.missedRecords(e, missed, extra, now, each)}
	starts := gate.start[:0]
	catchUp := len(runs) > 1
	for i, occ := range runs {
		if pol.MaxRuns > 0 && e.rec.FireCount >= pol.MaxRuns {
			e.rec.SetNextFire(time.Time{})
			e.rec.Done = true
			break
		}
		e.rec.SetLastFire(occ)
		e.rec.FireCount++
		if catchUp && (i > 0 || len(e.runs()) > 0) { // behind a run still going: queued too
			s.queueCatchUpLocked(e, occ, now, &w)
			continue
		}
		if ex := s.admitLocked(e, occ, now, false, &w); ex != nil {
			w.Executions = appendStart(w.Executions, ex)
			starts = append(starts, ex)
		}
	}
	if pol.MaxRuns > 0 && e.rec.FireCount >= pol.MaxRuns {
		e.rec.SetNextFire(time.Time{})
		e.rec.Done = true
	}
	s.heap.place(e)
	w.ScheduleStates = append(gate.state[:0], e.state()) // its firing state is all that changed
	e.dirty = false                                      // skips not written yet wait for flushSkipsLocked
	s.commitGateLocked(gate, w, starts)
}

// busyLocked reports whether a fire of e now would be skipped by the
// overlap policy: its previous run is still going and the policy is skip.
func (s *Scheduler) busyLocked(e *entry) bool {
	if len(e.runs()) == 0 {
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
// holds s.mu and has advanced the next fire.
func (s *Scheduler) skipFireLocked(e *entry, due []time.Time, extra int64, now time.Time) {
	pol := e.policy()
	if pol.MaxRuns <= 0 || e.rec.FireCount < pol.MaxRuns {
		e.rec.SetLastFire(due[len(due)-1])
		e.rec.FireCount++
	}
	if pol.MaxRuns > 0 && e.rec.FireCount >= pol.MaxRuns {
		e.rec.SetNextFire(time.Time{})
		e.rec.Done = true
	}
	e.rec.MissedCount += int64(len(due)) + extra
	if !e.rec.Paused {
		e.setPausedAt(time.Time{})
	}
	s.heap.place(e)
	s.skipLocked(e, due[0], due[len(due)-1], now, int64(len(due))+extra)
	if e.rec.Done {
		s.commitAndLaunchLocked(store.Writes{ScheduleStates: []store.Schedule{e.state()}, Executions: []store.Execution{s.skipRecord(e)}})
		e.clearSkips()
		e.dirty = false
	}
}
