package scheduler

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/schedulezero/schedulezero/pkg/store"
)

// recover deals with attempts that a previous run left unfinished. A running
// attempt may or may not have run on its handler. When that handler answers
// sz.known (protocol 5), it is asked first (recoverAttempt); otherwise the
// attempt is marked interrupted and, with attempts left, followed by a new
// attempt. A pending one was never sent and is simply dispatched, or
// queued behind a run of its schedule recovered before it when the
// overlap policy does not allow two at once (catchup.go).
func (s *Scheduler) recover(ctx context.Context) error {
	unfinished, err := s.db.Unfinished(ctx)
	if err != nil {
		return fmt.Errorf("recover unfinished executions: %w", err)
	}
	if len(unfinished) == 0 {
		return nil
	}
	// In order of occurrence, so that the runs of one schedule that were
	// queued behind each other (a catch-up) queue again in their order.
	slices.SortStableFunc(unfinished, func(a, b store.Execution) int { return a.ScheduledAt.Compare(b.ScheduledAt) })
	now := s.now()
	var w store.Writes
	var starts []*execution
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rec := range unfinished {
		e := s.entries.get(rec.ScheduleID)
		haveSchedule := e != nil
		asks := haveSchedule && rec.Status == store.StatusRunning && s.asksHandler(rec.HandlerID)
		if rec.Status == store.StatusRunning && !asks {
			rec.Status = store.StatusInterrupted
			rec.CompletedAt = now
			rec.Error = "the scheduler stopped while this attempt was running; its outcome is unknown"
			w.Executions = append(w.Executions, rec)
			if rec.Attempt >= rec.MaxAttempts {
				continue
			}
			rec.Attempt++
		}
		if !haveSchedule {
			rec.Status = store.StatusFailed
			rec.CompletedAt = now
			rec.Error = "not resumed after restart: its schedule no longer exists (or it was a one-off run)"
			w.Executions = append(w.Executions, rec)
			continue
		}
		if !asks && s.queueRecoveredLocked(e, &rec) {
			w.Executions = append(w.Executions, rec)
			continue
		}
		ex := s.newExecution(rec.HandlerID, rec.Method, e.rec.Params(), rec.MaxAttempts, s.timeout(e.rec.Timeout()), now)
		if asks {
			ex.recovering = true // still running in the store until its handler answered
		} else {
			rec.Status = store.StatusPending
			rec.StartedAt, rec.CompletedAt = time.Time{}, time.Time{}
			rec.DurationMS, rec.Result, rec.Error = 0, nil, ""
			rec.Instance, rec.Host = "", ""
		}
		ex.rec = rec
		ex.entry = e
		ex.policy = e.policy()
		e.addRunning(ex)
		w.Executions = append(w.Executions, rec)
		starts = append(starts, ex)
	}
	s.commitAndLaunchLocked(w, starts...)
	s.logger.Info("recovered unfinished executions", "records", len(unfinished), "resumed", len(starts))
	return nil
}
