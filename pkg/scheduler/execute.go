package scheduler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/schedulezero/schedulezero/pkg/store"
	"github.com/schedulezero/schedulezero/pkg/wire"
)

// Bounds on what one attempt record keeps of the job.
const (
	maxResultBytes  = 64 << 10
	maxParamSummary = 200
)

// Why an execution's context was cancelled.
var (
	errReplaced = errors.New("cancelled: replaced by a newer fire (overlap policy replace)")
	errStopping = errors.New("the scheduler is stopping")
)

// execution is one fire in flight: its current attempt record, what to send,
// and who waits for the end.
type execution struct {
	rec     store.Execution
	params  json.RawMessage
	timeout time.Duration
	policy  store.Policy
	entry   *entry        // nil for one-off runs
	delay   time.Duration // random delay before the first attempt
	done    chan struct{} // closed when the final attempt is recorded
	final   store.Execution

	ctx      context.Context // cancelled on stop, or by the overlap policy
	cancel   context.CancelCauseFunc
	launched bool

	// handler and conn are set when the first attempt got a handler slot
	// at fire time and was recorded running straight away (the fast path).
	handler *handlerState
	conn    Conn
}

func (s *Scheduler) newExecution(handler, method string, params json.RawMessage, maxAttempts int, timeout time.Duration, now time.Time) *execution {
	ctx, cancel := context.WithCancelCause(s.execCtx)
	return &execution{
		rec: store.Execution{
			ID:            s.ids.next(now),
			Attempt:       1,
			MaxAttempts:   maxAttempts,
			HandlerID:     handler,
			Method:        method,
			Status:        store.StatusPending,
			ScheduledAt:   now,
			ParamsSummary: summarize(params),
		},
		params:  paramsJSON(params),
		timeout: timeout,
		done:    make(chan struct{}),
		ctx:     ctx,
		cancel:  cancel,
	}
}

func summarize(p json.RawMessage) string {
	if len(p) <= maxParamSummary {
		return string(p)
	}
	return string(p[:maxParamSummary-3]) + "..."
}

func randDuration(limit time.Duration) time.Duration {
	if limit <= 0 {
		return 0
	}
	return rand.N(limit)
}

// commitGate lets every execution of one commit wait for it.
type commitGate struct {
	done chan struct{}
	err  error
}

func newCommitGate() *commitGate { return &commitGate{done: make(chan struct{})} }

// settle is the commit's callback; it runs on the committer goroutine.
func (g *commitGate) settle(err error) {
	g.err = err
	close(g.done)
}

func (g *commitGate) wait(ctx context.Context) error {
	select {
	case <-g.done:
		return g.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// run drives ex through its attempts once the commit that recorded it is
// durable; nothing is sent before.
func (s *Scheduler) run(ex *execution, gate *commitGate) {
	defer s.execWG.Done()
	defer func() {
		ex.cancel(nil)
		if ex.handler != nil { // a slot taken at fire time and never used
			ex.handler.release(0, false)
		}
		s.mu.Lock()
		s.finishedLocked(ex)
		s.mu.Unlock()
		close(ex.done)
	}()
	log := s.logger.With("schedule_id", ex.rec.ScheduleID, "execution_id", ex.rec.ID,
		"handler", ex.rec.HandlerID, "method", ex.rec.Method)
	if err := gate.wait(s.execCtx); err != nil {
		if s.execCtx.Err() == nil {
			log.Error("execution not recorded; not dispatched", "err", err)
		}
		ex.final = ex.rec
		return
	}
	if ex.delay > 0 && !s.sleep(ex, ex.delay) {
		return
	}
	for {
		log := log.With("attempt", ex.rec.Attempt)
		retry, ok := s.attempt(ex, log)
		if !ok {
			return // stopping: the attempt stays unfinished in the store
		}
		if !retry || ex.rec.Attempt >= ex.rec.MaxAttempts {
			ex.final = ex.rec
			return
		}
		// The next attempt is recorded pending before the backoff, so that
		// a stop during the wait leaves it to be dispatched after restart.
		delay := s.backoff(ex.policy, ex.rec.Attempt)
		next := ex.rec
		next.Attempt++
		next.Status = store.StatusPending
		next.ScheduledAt = s.now().Add(delay)
		next.StartedAt, next.CompletedAt = time.Time{}, time.Time{}
		next.DurationMS, next.Result, next.Error = 0, nil, ""
		if err := s.db.Commit(s.execCtx, store.Writes{Executions: []store.Execution{next}}); err != nil {
			log.Error("retry not recorded; giving up", "err", err)
			ex.final = ex.rec
			return
		}
		ex.rec = next
		log.Info("attempt failed; retrying", "retry_in", delay.String())
		if !s.sleep(ex, delay) {
			return
		}
	}
}

// sleep waits d unless ex is cancelled or the scheduler stops. A cancelled
// (replaced) execution records its pending attempt as cancelled.
func (s *Scheduler) sleep(ex *execution, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.waitCtx.Done():
		return false // the pending attempt is dispatched after the restart
	case <-ex.ctx.Done():
		if s.execCtx.Err() == nil {
			s.finish(ex, store.StatusCancelled, nil, context.Cause(ex.ctx).Error(), s.logger)
			ex.final = ex.rec
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
func (s *Scheduler) attempt(ex *execution, log *slog.Logger) (retry, ok bool) {
	h, conn := ex.handler, ex.conn
	ex.handler, ex.conn = nil, nil
	if conn == nil {
		h = s.reg.await(ex.rec.HandlerID)
		// Wait for the handler (offline, or at its limit) within the job's
		// deadline.
		ctx, cancel := context.WithTimeout(ex.ctx, ex.timeout)
		unhook := context.AfterFunc(s.waitCtx, cancel)
		var err error
		conn, err = h.acquire(ctx)
		unhook()
		cancel()
		if err != nil {
			if s.waitCtx.Err() != nil {
				return false, false
			}
			if ex.ctx.Err() != nil {
				return false, s.finish(ex, store.StatusCancelled, nil, context.Cause(ex.ctx).Error(), log)
			}
			return retries(ex.policy, store.RetryOnUnavailable), s.finish(ex, store.StatusFailed, nil, err.Error(), log)
		}
		ex.rec.Status = store.StatusRunning
		ex.rec.StartedAt = s.now()
		if err := s.db.Commit(s.execCtx, store.Writes{Executions: []store.Execution{ex.rec}}); err != nil {
			h.release(0, false)
			if s.execCtx.Err() != nil {
				return false, false
			}
			log.Error("attempt not recorded; not dispatched", "err", err)
			return false, true
		}
	}
	start := s.now()
	callCtx, callCancel := context.WithTimeout(ex.ctx, ex.timeout)
	defer callCancel()
	req := wire.Request{
		Method:      ex.rec.Method,
		Params:      ex.params,
		ExecutionID: ex.rec.ID,
		ScheduleID:  ex.rec.ScheduleID,
		Attempt:     ex.rec.Attempt,
		DeadlineMS:  start.Add(ex.timeout).UnixMilli(),
		V:           2,
	}
	reply, err := conn.Call(callCtx, req)
	// A request that provably never left (the handler's socket is gone: it
	// is restarting) is tried again within the same attempt and deadline:
	// it cannot run twice, and a handler that comes back in time gets it.
	for wait := unsentRetryMin; errors.Is(err, wire.ErrUnavailable) && callCtx.Err() == nil; wait = min(2*wait, unsentRetryMax) {
		t := time.NewTimer(wait)
		select {
		case <-callCtx.Done():
		case <-s.waitCtx.Done():
			t.Stop()
			h.release(0, false)
			return false, s.unsend(ex, log)
		case <-t.C:
			conn = h.current(conn) // it may have re-registered elsewhere
			reply, err = conn.Call(callCtx, req)
		}
		t.Stop()
	}
	elapsed := s.now().Sub(start)
	switch {
	case err == nil && reply.Success:
		h.release(elapsed, false)
		return false, s.finish(ex, store.StatusSucceeded, bound(reply.Raw), "", log)
	case err == nil:
		h.release(elapsed, true)
		msg := reply.Error
		if msg == "" {
			msg = "handler answered success=false"
		}
		return retryable(reply.Raw) && retries(ex.policy, store.RetryOnError), s.finish(ex, store.StatusFailed, bound(reply.Raw), msg, log)
	case s.execCtx.Err() != nil:
		h.release(elapsed, false)
		return false, false
	case ex.ctx.Err() != nil:
		// Replaced: tell the handler, record it, never retry.
		h.release(elapsed, false)
		s.cancelOnHandler(conn, ex)
		return false, s.finish(ex, store.StatusCancelled, nil, context.Cause(ex.ctx).Error(), log)
	case errors.Is(err, wire.ErrTimeout) || errors.Is(err, context.DeadlineExceeded):
		h.release(elapsed, true)
		s.cancelOnHandler(conn, ex)
		msg := fmt.Sprintf("no reply within the %s timeout; the handler was told to cancel", ex.timeout)
		if !errors.Is(err, context.DeadlineExceeded) {
			msg = fmt.Sprintf("no reply (outcome unknown, not re-sent): %v", err)
		}
		return retries(ex.policy, store.RetryOnTimeout), s.finish(ex, store.StatusTimedOut, nil, msg, log)
	default:
		h.release(elapsed, true)
		outcome := store.RetryOnError
		if errors.Is(err, wire.ErrUnavailable) {
			outcome = store.RetryOnUnavailable
		}
		return retries(ex.policy, outcome), s.finish(ex, store.StatusFailed, nil, err.Error(), log)
	}
}

// unsend puts back to pending an attempt whose request never left, so that
// the next start dispatches it instead of marking it interrupted. It reports
// false: the execution stops here.
func (s *Scheduler) unsend(ex *execution, log *slog.Logger) bool {
	ex.rec.Status = store.StatusPending
	ex.rec.StartedAt = time.Time{}
	if err := s.db.Commit(s.execCtx, store.Writes{Executions: []store.Execution{ex.rec}}); err != nil && s.execCtx.Err() == nil {
		log.Warn("unsent attempt left recorded as running", "err", err)
	}
	return false
}

// cancelOnHandler asks the handler to stop ex's attempt (the Go runner
// cancels the job's context; the exec kind kills the process group).
func (s *Scheduler) cancelOnHandler(conn Conn, ex *execution) {
	ctx, cancel := context.WithTimeout(s.execCtx, time.Second)
	defer cancel()
	_ = conn.Cancel(ctx, ex.rec.ID, ex.rec.Attempt)
}

// finish records the end of ex's current attempt. It reports false when the
// scheduler is stopping and the record could not be written.
func (s *Scheduler) finish(ex *execution, status store.Status, result json.RawMessage, msg string, log *slog.Logger) bool {
	now := s.now()
	ex.rec.Status = status
	ex.rec.CompletedAt = now
	if !ex.rec.StartedAt.IsZero() {
		ex.rec.DurationMS = float64(now.Sub(ex.rec.StartedAt)) / float64(time.Millisecond)
	}
	ex.rec.Result = result
	ex.rec.Error = msg
	if err := s.db.Commit(s.execCtx, store.Writes{Executions: []store.Execution{ex.rec}}); err != nil {
		if s.execCtx.Err() == nil {
			log.Error("attempt result not recorded", "err", err)
		}
		return false
	}
	if status == store.StatusSucceeded {
		log.Info("attempt succeeded", "duration_ms", ex.rec.DurationMS)
	} else {
		log.Warn("attempt did not succeed", "status", string(status), "error", msg, "duration_ms", ex.rec.DurationMS)
	}
	return true
}

// retryable reads the runner's "retry": false (handler.Permanent).
func retryable(raw json.RawMessage) bool {
	var r struct {
		Retry *bool `json:"retry"`
	}
	if json.Unmarshal(raw, &r) == nil && r.Retry != nil {
		return *r.Retry
	}
	return true
}

func bound(raw json.RawMessage) json.RawMessage {
	if len(raw) <= maxResultBytes {
		return raw
	}
	b, _ := json.Marshal(fmt.Sprintf("reply of %d bytes not kept (limit %d)", len(raw), maxResultBytes))
	return b
}

// recover deals with attempts that a previous run left unfinished. A running
// attempt may or may not have run on its handler: it is marked interrupted
// and, with attempts left, followed by a new attempt. A pending one was never
// sent and is simply dispatched.
func (s *Scheduler) recover(ctx context.Context) error {
	unfinished, err := s.db.Unfinished(ctx)
	if err != nil {
		return fmt.Errorf("recover unfinished executions: %w", err)
	}
	if len(unfinished) == 0 {
		return nil
	}
	now := s.now()
	var w store.Writes
	resumed := 0
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rec := range unfinished {
		e, haveSchedule := s.entries[rec.ScheduleID]
		if rec.Status == store.StatusRunning {
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
		ex := s.newExecution(rec.HandlerID, rec.Method, e.rec.Params, rec.MaxAttempts, s.timeout(e.rec.Timeout), now)
		rec.Status = store.StatusPending
		rec.StartedAt, rec.CompletedAt = time.Time{}, time.Time{}
		rec.DurationMS, rec.Result, rec.Error = 0, nil, ""
		ex.rec = rec
		ex.entry = e
		ex.policy = e.rec.Policy
		e.running[rec.ID] = ex
		w.Executions = append(w.Executions, rec)
		resumed++
	}
	s.commitAndLaunchLocked(w)
	s.logger.Info("recovered unfinished executions", "records", len(unfinished), "resumed", resumed)
	return nil
}
