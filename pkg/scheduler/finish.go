package scheduler

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/schedulezero/schedulezero/pkg/store"
)

// finish records the end of ex's current attempt. It reports false when the
// scheduler is stopping and the record could not be written.
func (s *Scheduler) finish(ex *execution, status store.Status, result json.RawMessage, msg string) bool {
	_, ok := s.finishRetry(ex, false, status, result, msg)
	return ok
}

// finishRetry is finish, and, when retry holds and attempts are left, the
// next attempt recorded pending in the same commit: a crash between two
// commits would leave the execution ended although its policy retries
// it. It reports whether the next attempt was recorded (ex.rec is then
// that attempt, due after ex.retryIn), and false in ok when the scheduler
// is stopping and nothing could be written.
func (s *Scheduler) finishRetry(ex *execution, retry bool, status store.Status, result json.RawMessage, msg string) (retried, ok bool) {
	ex.end(status, result, msg, s.now())
	w := store.Writes{Executions: []store.Execution{ex.rec}}
	retry = retry && ex.rec.Attempt < ex.rec.MaxAttempts
	var next store.Execution
	if retry {
		ex.retryIn = s.backoff(ex.policy, ex.rec.Attempt)
		next = ex.rec
		next.Attempt++
		next.Status = store.StatusPending
		next.ScheduledAt = s.now().Add(ex.retryIn)
		next.StartedAt, next.CompletedAt = time.Time{}, time.Time{}
		next.DurationMS, next.Result, next.Error, next.Note = 0, nil, "", ""
		next.Instance, next.Host = "", "" // placed when it is sent
		w.Executions = append(w.Executions, next)
	}
	if !s.recorded(ex, s.db.Commit(s.execCtx, w)) {
		return false, false
	}
	s.emitExecutions(w.Executions)
	if retry {
		ex.rec = next
	}
	return retry, true
}

// recorded logs the end of ex's attempt once the commit of its record
// returned err, and reports whether the record is durable.
func (s *Scheduler) recorded(ex *execution, err error) bool {
	if err != nil {
		if s.execCtx.Err() == nil {
			s.exLog(ex).Error("attempt result not recorded", "err", err)
		}
		return false
	}
	if ex.rec.Status == store.StatusSucceeded {
		if s.logger.Enabled(context.Background(), slog.LevelInfo) {
			s.exLog(ex).Info("attempt succeeded", "duration_ms", ex.rec.DurationMS)
		}
	} else {
		s.exLog(ex).Warn("attempt did not succeed", "status", string(ex.rec.Status), "err", ex.rec.Error, "duration_ms", ex.rec.DurationMS)
	}
	return true
}
