package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/schedulezero/schedulezero/pkg/store"
	"github.com/schedulezero/schedulezero/pkg/wire"
)

// run drives ex through its attempts on the goroutine path; dispatch
// starts it once the commit that recorded it ended, with that commit's
// error: nothing is sent before it is durable.
func (s *Scheduler) run(ex *execution, committed error) {
	defer s.ended(ex)
	ctx := ex.context()
	if committed != nil {
		if s.execCtx.Err() == nil {
			s.exLog(ex).Error("execution not recorded; not dispatched", "err", committed)
		}
		ex.settled = true
		return
	}
	if ex.delay > 0 && !s.sleep(ctx, ex, ex.delay) {
		return
	}
	first := func() (bool, bool) { return s.attempt(ctx, ex) }
	if ex.recovering {
		first = func() (bool, bool) { return s.recoverAttempt(ctx, ex) }
	}
	s.drive(ctx, ex, first)
}

// ended is the end of ex, by whichever path: its handler slot, if unused,
// goes back, its schedule's running set forgets it, and waiters wake.
func (s *Scheduler) ended(ex *execution) {
	ex.releaseContext()
	ex.releaseSlot()
	s.mu.Lock()
	s.finishedLocked(ex)
	s.mu.Unlock()
	close(ex.done)
	s.execWG.Done()
}

// drive runs first, the current attempt, and the retries after it until
// one is final or the scheduler stops.
func (s *Scheduler) drive(ctx context.Context, ex *execution, first func() (retry, ok bool)) {
	for try := first; ; try = func() (bool, bool) { return s.attempt(ctx, ex) } {
		retry, ok := try()
		if !ok {
			return // stopping: the attempt stays unfinished in the store
		}
		if !retry {
			ex.settled = true
			return
		}
		// ex.rec is the next attempt, recorded pending with the end of the
		// last one (finishRetry), so that a stop or a crash during the
		// wait leaves it to be dispatched after the restart.
		if s.logger.Enabled(context.Background(), slog.LevelInfo) {
			s.exLog(ex).Info("attempt failed; retrying", "retry_in", ex.retryIn.String())
		}
		if !s.sleep(ctx, ex, ex.retryIn) {
			return
		}
	}
}

// sleep waits d unless ex is cancelled or the scheduler stops. A cancelled
// (replaced) execution records its pending attempt as cancelled.
func (s *Scheduler) sleep(ctx context.Context, ex *execution, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.waitCtx.Done():
		return false // the pending attempt is dispatched after the restart
	case <-ctx.Done():
		if s.execCtx.Err() == nil {
			s.finish(ex, store.StatusCancelled, nil, context.Cause(ctx).Error())
			ex.settled = true
		}
		return false
	}
}

// backoff is the delay before attempt n+1: exponential from the base,
// capped, with full jitter over its upper half so that many failing
// executions do not retry in step.
func (s *Scheduler) backoff(p store.Policy, n int) time.Duration {
	base, limit := s.opts.BackoffBase, s.opts.BackoffMax
	if p.Backoff > 0 {
		base = p.Backoff
	}
	if p.BackoffMax > 0 {
		limit = p.BackoffMax
	}
	d := base << min(n-1, 30)
	if d <= 0 || d > limit {
		d = limit
	}
	half := d / 2
	return half + rand.N(half+1)
}

// A call that failed before the request was sent is tried again after a
// pause that doubles from unsentRetryMin up to unsentRetryMax.
const (
	unsentRetryMin = 50 * time.Millisecond
	unsentRetryMax = time.Second
)

// retries reports whether policy p retries an outcome.
func retries(p store.Policy, outcome string) bool {
	return len(p.RetryOn) == 0 || slices.Contains(p.RetryOn, outcome)
}

// attempt runs ex's current attempt to its end and records it. It reports
// whether the attempt may be retried, and false in ok when the scheduler is
// stopping and the attempt was left as it is.
func (s *Scheduler) attempt(ctx context.Context, ex *execution) (retry, ok bool) {
	h, conn := ex.takeSlot()
	if conn == nil {
		h = s.reg.await(ex.rec.HandlerID)
		// Wait for the handler (offline, or at its limit) within the job's
		// deadline.
		wctx, cancel := context.WithTimeout(ctx, ex.timeout)
		unhook := context.AfterFunc(s.waitCtx, cancel)
		var err error
		conn, err = h.acquire(wctx, ex.policy.On)
		unhook()
		cancel()
		if err != nil {
			return s.notAcquired(ctx, ex, err)
		}
		h.place(&ex.rec, conn)
		ex.rec.Status = store.StatusRunning
		ex.rec.StartedAt = s.now()
		ex.rec.Error = "" // the reason it was waiting
		if err := s.db.Commit(s.execCtx, store.Writes{Executions: []store.Execution{ex.rec}}); err != nil {
			h.release(conn, 0, false)
			if s.execCtx.Err() != nil {
				return false, false
			}
			s.exLog(ex).Error("attempt not recorded; not dispatched", "err", err)
			return false, true
		}
		s.emitExecutions([]store.Execution{ex.rec})
	}
	start := s.now()
	callCtx, callCancel := context.WithTimeout(ctx, ex.timeout)
	defer callCancel()
	req := s.request(ex, start)
	reply, err := conn.Call(callCtx, req)
	return s.outcome(ctx, call{callCtx: callCtx, ex: ex, h: h, conn: conn, req: req, start: start, reply: reply, err: err})
}

// notAcquired records the end of ex's attempt that got no handler slot,
// for err (nil: cancelled or stopping), as attempt does.
func (s *Scheduler) notAcquired(ctx context.Context, ex *execution, err error) (retry, ok bool) {
	switch {
	case s.waitCtx.Err() != nil:
		return false, false
	case ctx.Err() != nil:
		return false, s.finish(ex, store.StatusCancelled, nil, context.Cause(ctx).Error())
	case errors.Is(err, errHandlerRemoved):
		return false, s.finish(ex, store.StatusFailed, nil, err.Error()+": not sent, and not retried")
	case err == nil:
		return false, false
	}
	return s.finishRetry(ex, retries(ex.policy, store.RetryOnUnavailable), store.StatusFailed, nil, err.Error())
}

// call is one call of an attempt's request and what came back: outcome
// records it. callCtx carries the job's deadline; it is the context the
// call was made with, and lives no longer than it.
type call struct {
	callCtx context.Context
	ex      *execution
	h       *handlerState // the handler slot the call holds
	conn    Conn          // where req was sent
	req     wire.Request
	start   time.Time // when req was sent
	reply   wire.Reply
	err     error
}

// request is the job request of ex's current attempt, sent at start.
func (s *Scheduler) request(ex *execution, start time.Time) wire.Request {
	return wire.Request{
		Method:      ex.rec.Method,
		Params:      ex.params,
		ExecutionID: ex.rec.ID,
		ScheduleID:  ex.rec.ScheduleID,
		Attempt:     ex.rec.Attempt,
		DeadlineMS:  start.Add(ex.timeout).UnixMilli(),
	}
}

// outcome records the end of call c; ctx is the execution's. A request
// that never left is first tried again.
func (s *Scheduler) outcome(ctx context.Context, c call) (retry, ok bool) {
	callCtx, ex, h, conn, req, start, reply, err := c.callCtx, c.ex, c.h, c.conn, c.req, c.start, c.reply, c.err
	// A request that provably never left (the handler's socket is gone: it
	// is restarting), or that the handler refused before starting it (it
	// is stopping), is sent again within the same attempt and deadline: it
	// cannot run twice, and a handler that comes back in time gets it.
	err = notRun(reply, err)
	due := false // the pause after a call that did not leave has passed
	for wait := unsentRetryMin; errors.Is(err, wire.ErrUnavailable) && callCtx.Err() == nil; {
		// Watch before looking, so that a change in between wakes us.
		changed, unwatch := h.watch()
		// Send again at once when the handler registered again since
		// conn was taken, and after the pause when it is online (its
		// socket may be back: restarted at the same address before its
		// registration arrived). Not online (stopping, offline): its
		// registration wakes this loop.
		if next, online := h.failover(conn, ex.policy.On); online && (next != conn || due) {
			unwatch()
			if next != conn {
				s.moved(ex, h, next)
			}
			conn, due = next, false
			reply, err = conn.Call(callCtx, req)
			err = notRun(reply, err)
			continue
		}
		t := time.NewTimer(wait)
		select {
		case <-callCtx.Done():
		case <-s.waitCtx.Done():
			t.Stop()
			unwatch()
			h.release(conn, 0, false)
			return false, s.unsend(ex)
		case <-changed: // a registration or a status report: look again
		case <-t.C:
			wait = min(2*wait, unsentRetryMax)
			due = true
		}
		t.Stop()
		unwatch()
	}
	elapsed := s.now().Sub(start)
	switch {
	case err == nil && reply.Success:
		h.release(conn, elapsed, false)
		return false, s.finish(ex, store.StatusSucceeded, bound(reply.Raw), "")
	case err == nil:
		h.release(conn, elapsed, true)
		msg := reply.Error
		if msg == "" {
			msg = "handler answered success=false"
		}
		if reply.Timeout {
			// The handler ended the job at its deadline and said so
			// ("timeout":true): the outcome is known, nothing to cancel.
			return s.finishRetry(ex, reply.Retries() && retries(ex.policy, store.RetryOnTimeout), store.StatusTimedOut, bound(reply.Raw), "timed out on the handler: "+msg)
		}
		return s.finishRetry(ex, reply.Retries() && retries(ex.policy, store.RetryOnError), store.StatusFailed, bound(reply.Raw), msg)
	case s.execCtx.Err() != nil:
		h.release(conn, elapsed, false)
		return false, false
	case ctx.Err() != nil:
		// Replaced: tell the handler, record it, never retry.
		h.release(conn, elapsed, false)
		s.cancelOnHandler(h, conn, ex)
		return false, s.finish(ex, store.StatusCancelled, nil, context.Cause(ctx).Error())
	case errors.Is(err, wire.ErrTimeout) || errors.Is(err, context.DeadlineExceeded):
		h.release(conn, elapsed, true)
		s.cancelOnHandler(h, conn, ex)
		msg := fmt.Sprintf("no reply within the %s timeout; the handler was told to cancel", ex.timeout)
		if !errors.Is(err, context.DeadlineExceeded) {
			msg = fmt.Sprintf("no reply (outcome unknown, not re-sent): %v", err)
		}
		return s.finishRetry(ex, retries(ex.policy, store.RetryOnTimeout), store.StatusTimedOut, nil, msg)
	default:
		h.release(conn, elapsed, true)
		outcome := store.RetryOnError
		if errors.Is(err, wire.ErrUnavailable) {
			outcome = store.RetryOnUnavailable
		}
		return s.finishRetry(ex, retries(ex.policy, outcome), store.StatusFailed, nil, err.Error())
	}
}

// unsend puts back to pending an attempt whose request never left, so that
// the next start dispatches it instead of marking it interrupted. It reports
// false: the execution stops here.
func (s *Scheduler) unsend(ex *execution) bool {
	ex.rec.Status = store.StatusPending
	ex.rec.StartedAt = time.Time{}
	ex.rec.Instance, ex.rec.Host = "", ""
	if err := s.db.Commit(s.execCtx, store.Writes{Executions: []store.Execution{ex.rec}}); err != nil && s.execCtx.Err() == nil {
		s.exLog(ex).Warn("unsent attempt left recorded as running", "err", err)
	}
	return false
}

// cancelOnHandler asks the handler to stop ex's attempt (the Go runner
// cancels the job's context; the exec kind kills the process group), on
// conn, or on h's current connection when h registered again since the
// call: a runner whose pings failed registers again while its jobs run.
func (s *Scheduler) cancelOnHandler(h *handlerState, conn Conn, ex *execution) {
	ctx, cancel := context.WithTimeout(s.execCtx, time.Second)
	defer cancel()
	if err := conn.Cancel(ctx, ex.rec.ID, ex.rec.Attempt); errors.Is(err, errConnReplaced) {
		cur, _ := h.current(conn)
		_ = cur.Cancel(ctx, ex.rec.ID, ex.rec.Attempt)
	}
}
