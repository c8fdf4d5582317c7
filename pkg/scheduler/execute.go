package scheduler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
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
	// errHandlerRemoved ends an attempt whose handler was removed while it
	// waited: nothing will take it.
	errHandlerRemoved = errors.New("removed (schedulezero handlers remove)")
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
	retryIn time.Duration // backoff before the current attempt, a retry
	done    chan struct{} // closed when the final attempt is recorded
	final   store.Execution

	launched bool

	// handler and conn are set when the first attempt got a handler slot
	// at fire time and was recorded running straight away (the fast path).
	handler *handlerState
	conn    Conn

	mu      sync.Mutex
	cause   error                   // why it was cancelled (overlap replace, stop)
	ctx     context.Context         // the goroutine path's; see context
	cancelF context.CancelCauseFunc // cancels ctx
	pending *wire.Pending           // the fast path's call in flight
	sentAt  time.Time               // when the fast path sent it
}

func (s *Scheduler) newExecution(handler, method string, params json.RawMessage, maxAttempts int, timeout time.Duration, now time.Time) *execution {
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
	}
}

// abort cancels ex for cause: its context, when a goroutine runs it, and
// its call in flight on the fast path. The first cause is kept.
func (ex *execution) abort(cause error) {
	ex.mu.Lock()
	if ex.cause == nil {
		ex.cause = cause
	}
	cancel, p := ex.cancelF, ex.pending
	ex.mu.Unlock()
	if cancel != nil {
		cancel(cause)
	}
	if p != nil {
		p.Abort(cause)
	}
}

// context returns the context of the goroutine that runs ex, cancelled by
// abort. Only that path needs one: the fast path keeps none, since a
// context per execution in flight is garbage the collector pays for at
// every cycle. It is not a child of the scheduler's execCtx: thousands of
// executions starting and ending at once would all take that context's
// lock to register and unregister (and the timer loop's fires came late
// by milliseconds); Stop aborts the running executions itself
// (abortRunning).
func (ex *execution) context() context.Context {
	ex.mu.Lock()
	defer ex.mu.Unlock()
	if ex.ctx == nil {
		ex.ctx, ex.cancelF = context.WithCancelCause(context.Background())
		if ex.cause != nil {
			ex.cancelF(ex.cause)
		}
	}
	return ex.ctx
}

// cancelled returns the cause of an abort, or nil.
func (ex *execution) cancelled() error {
	ex.mu.Lock()
	defer ex.mu.Unlock()
	return ex.cause
}

func (ex *execution) releaseContext() {
	ex.mu.Lock()
	cancel := ex.cancelF
	ex.mu.Unlock()
	if cancel != nil {
		cancel(nil)
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

// commitGate lets every execution of one commit wait for it. Executions on
// the fast path do not wait: settle sends them.
type commitGate struct {
	done chan struct{}
	err  error
	s    *Scheduler
	fast []*execution
}

func (s *Scheduler) newCommitGate() *commitGate { return &commitGate{done: make(chan struct{}), s: s} }

// settle is the commit's callback; it runs on the committer goroutine,
// which must not wait: the fast executions are sent from s.dispatches'
// goroutine.
func (g *commitGate) settle(err error) {
	g.err = err
	close(g.done)
	if len(g.fast) > 0 {
		g.s.dispatches.push(g)
	}
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
	defer s.ended(ex)
	ctx := ex.context()
	if err := gate.wait(s.execCtx); err != nil {
		if s.execCtx.Err() == nil {
			s.exLog(ex).Error("execution not recorded; not dispatched", "err", err)
		}
		ex.final = ex.rec
		return
	}
	if ex.delay > 0 && !s.sleep(ctx, ex, ex.delay) {
		return
	}
	s.drive(ctx, ex, func() (bool, bool) { return s.attempt(ctx, ex) })
}

// ended is the end of ex, by whichever path: its handler slot, if unused,
// goes back, its schedule's running set forgets it, and waiters wake.
func (s *Scheduler) ended(ex *execution) {
	ex.releaseContext()
	if ex.handler != nil { // a slot taken at fire time and never used
		ex.handler.release(0, false)
		ex.handler, ex.conn = nil, nil
	}
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
			ex.final = ex.rec
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
func (s *Scheduler) attempt(ctx context.Context, ex *execution) (retry, ok bool) {
	h, conn := ex.handler, ex.conn
	ex.handler, ex.conn = nil, nil
	if conn == nil {
		h = s.reg.await(ex.rec.HandlerID)
		// Wait for the handler (offline, or at its limit) within the job's
		// deadline.
		wctx, cancel := context.WithTimeout(ctx, ex.timeout)
		unhook := context.AfterFunc(s.waitCtx, cancel)
		var err error
		conn, err = h.acquire(wctx)
		unhook()
		cancel()
		if err != nil {
			if s.waitCtx.Err() != nil {
				return false, false
			}
			if ctx.Err() != nil {
				return false, s.finish(ex, store.StatusCancelled, nil, context.Cause(ctx).Error())
			}
			if errors.Is(err, errHandlerRemoved) {
				return false, s.finish(ex, store.StatusFailed, nil, err.Error()+": not sent, and not retried")
			}
			return s.finishRetry(ex, retries(ex.policy, store.RetryOnUnavailable), store.StatusFailed, nil, err.Error())
		}
		ex.rec.Status = store.StatusRunning
		ex.rec.StartedAt = s.now()
		ex.rec.Error = "" // the reason it was waiting
		if err := s.db.Commit(s.execCtx, store.Writes{Executions: []store.Execution{ex.rec}}); err != nil {
			h.release(0, false)
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
	return s.outcome(ctx, callCtx, ex, h, conn, req, start, reply, err)
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

// outcome records the end of a call of req, sent at start, that returned
// reply and err; ctx is the execution's, callCtx the call's (the job's
// deadline). A request that never left is first tried again.
func (s *Scheduler) outcome(ctx, callCtx context.Context, ex *execution, h *handlerState, conn Conn, req wire.Request, start time.Time, reply wire.Reply, err error) (retry, ok bool) {
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
		if next, online := h.current(conn); online && (next != conn || due) {
			unwatch()
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
			h.release(0, false)
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
		h.release(elapsed, false)
		return false, s.finish(ex, store.StatusSucceeded, bound(reply.Raw), "")
	case err == nil:
		h.release(elapsed, true)
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
		h.release(elapsed, false)
		return false, false
	case ctx.Err() != nil:
		// Replaced: tell the handler, record it, never retry.
		h.release(elapsed, false)
		s.cancelOnHandler(h, conn, ex)
		return false, s.finish(ex, store.StatusCancelled, nil, context.Cause(ctx).Error())
	case errors.Is(err, wire.ErrTimeout) || errors.Is(err, context.DeadlineExceeded):
		h.release(elapsed, true)
		s.cancelOnHandler(h, conn, ex)
		msg := fmt.Sprintf("no reply within the %s timeout; the handler was told to cancel", ex.timeout)
		if !errors.Is(err, context.DeadlineExceeded) {
			msg = fmt.Sprintf("no reply (outcome unknown, not re-sent): %v", err)
		}
		return s.finishRetry(ex, retries(ex.policy, store.RetryOnTimeout), store.StatusTimedOut, nil, msg)
	default:
		h.release(elapsed, true)
		outcome := store.RetryOnError
		if errors.Is(err, wire.ErrUnavailable) {
			outcome = store.RetryOnUnavailable
		}
		return s.finishRetry(ex, retries(ex.policy, outcome), store.StatusFailed, nil, err.Error())
	}
}

// notRun turns a reply that says the handler refused the job before
// starting it ("not_run":true, a handler that is stopping) into an error
// wrapping wire.ErrUnavailable: like a request that never left, it may be
// sent again.
func notRun(reply wire.Reply, err error) error {
	if err != nil || reply.Success {
		return err
	}
	if !reply.NotRun {
		return nil
	}
	return notRunError(reply.Error)
}

// notRunError is the handler's reason for refusing a job it did not
// start. It is a wire.ErrUnavailable: the job may be sent again.
type notRunError string

func (e notRunError) Error() string {
	return fmt.Sprintf("the handler refused the job without starting it (%s), and no handler took it before the deadline", string(e))
}

func (notRunError) Is(target error) bool { return target == wire.ErrUnavailable }

// exLog is the logger of ex's current attempt. It is built when a line is
// about to be written, not per execution: With copies its attributes, and
// at the default level most executions log nothing.
func (s *Scheduler) exLog(ex *execution) *slog.Logger {
	return s.logger.With("schedule_id", ex.rec.ScheduleID, "execution_id", ex.rec.ID,
		"handler", ex.rec.HandlerID, "method", ex.rec.Method, "attempt", ex.rec.Attempt)
}

// unsend puts back to pending an attempt whose request never left, so that
// the next start dispatches it instead of marking it interrupted. It reports
// false: the execution stops here.
func (s *Scheduler) unsend(ex *execution) bool {
	ex.rec.Status = store.StatusPending
	ex.rec.StartedAt = time.Time{}
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
		next.DurationMS, next.Result, next.Error = 0, nil, ""
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

// end sets the final fields of ex's current attempt, ended at now.
func (ex *execution) end(status store.Status, result json.RawMessage, msg string, now time.Time) {
	ex.rec.Status = status
	ex.rec.CompletedAt = now
	if !ex.rec.StartedAt.IsZero() {
		ex.rec.DurationMS = float64(now.Sub(ex.rec.StartedAt)) / float64(time.Millisecond)
	}
	ex.rec.Result = result
	ex.rec.Error = msg
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
		s.exLog(ex).Warn("attempt did not succeed", "status", string(ex.rec.Status), "error", ex.rec.Error, "duration_ms", ex.rec.DurationMS)
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
		ex.policy = e.policy()
		e.addRunning(ex)
		w.Executions = append(w.Executions, rec)
		resumed++
	}
	s.commitAndLaunchLocked(w)
	s.logger.Info("recovered unfinished executions", "records", len(unfinished), "resumed", resumed)
	return nil
}
