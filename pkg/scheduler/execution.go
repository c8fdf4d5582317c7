package scheduler

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/schedulezero/schedulezero/pkg/store"
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
	// settled: rec is the final record (RunNow returns it once done is
	// closed); unset when the scheduler stopped first.
	settled bool
	// recovering: the attempt in rec was found running after a restart;
	// its handler is asked about it before anything is sent (recoverAttempt).
	recovering bool
	// note goes into the record of the attempt when it ends (NoteRecovered).
	note string

	// handler and conn are set when the first attempt got a handler slot
	// at fire time and was recorded running straight away (then send
	// takes the fast path).
	// Only giveSlot and takeSlot touch them: whoever takes the slot owns
	// it, and uses or releases it.
	handler *handlerState
	conn    Conn
	// bounded: the slot taken at fire time counts against MaxInFlight
	// until the execution ends (finishedLocked). Under the Scheduler's mu.
	bounded bool

	mu      sync.Mutex
	cause   error                   // why it was cancelled (overlap replace, stop)
	ctx     context.Context         // the goroutine path's; see context
	cancelF context.CancelCauseFunc // cancels ctx
	// abortCall ends the fast path's call in flight.
	abortCall func(error)

	// out is the storage of the one record of this execution's commits
	// on the fast path: the fire's (when it writes nothing else) and the
	// result's. Each is done with it before the next begins: the result
	// is only known once the fire's commit settled.
	out [1]store.Execution
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

// giveSlot records the handler slot ex got at fire time.
func (ex *execution) giveSlot(h *handlerState, conn Conn) { ex.handler, ex.conn = h, conn }

// takeSlot hands the slot ex got at fire time, if any, to the caller, who
// then owns it: it sends on conn and releases h, or releases h unused.
func (ex *execution) takeSlot() (*handlerState, Conn) {
	h, conn := ex.handler, ex.conn
	ex.handler, ex.conn = nil, nil
	return h, conn
}

// releaseSlot gives back a slot taken at fire time and never used.
func (ex *execution) releaseSlot() {
	if h, conn := ex.takeSlot(); h != nil {
		h.release(conn, 0, false)
	}
}

// abort cancels ex for cause: its context, when a goroutine runs it, and
// its call in flight on the fast path. The first cause is kept.
func (ex *execution) abort(cause error) {
	ex.mu.Lock()
	if ex.cause == nil {
		ex.cause = cause
	}
	cancel, abortCall := ex.cancelF, ex.abortCall
	ex.mu.Unlock()
	if cancel != nil {
		cancel(cause)
	}
	if abortCall != nil {
		abortCall(cause)
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

func (ex *execution) releaseContext() {
	ex.mu.Lock()
	cancel := ex.cancelF
	ex.mu.Unlock()
	if cancel != nil {
		cancel(nil)
	}
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
	ex.rec.Note, ex.note = ex.note, ""
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

// exLog is the logger of ex's current attempt. It is built when a line is
// about to be written, not per execution: With copies its attributes, and
// at the default level most executions log nothing.
func (s *Scheduler) exLog(ex *execution) *slog.Logger {
	return s.logger.With("schedule_id", ex.rec.ScheduleID, "execution_id", ex.rec.ID,
		"handler", ex.rec.HandlerID, "method", ex.rec.Method, "attempt", ex.rec.Attempt)
}

// commitGate is one commit and the executions it launches: settle hands
// them to dispatch once it is durable. Others (RunNow, the loop's
// backpressure) wait for it.
//
// A fire's commit is one allocation of this, most of the time: it holds
// the storage of the fire's schedule state and of its one start, and its
// done channel is made only when something waits (doneChan), which is
// rare: every fire makes a gate, and the loop waits on one only when the
// store's queue is long.
type commitGate struct {
	s      *Scheduler
	w      store.Writes // what the commit writes, until it settles
	starts []*execution

	mu      sync.Mutex
	settled bool
	err     error
	done    chan struct{} // nil until doneChan

	state [1]store.Schedule // storage of a fire's w.ScheduleStates
	start [1]*execution     // storage of a fire's starts
}

func (s *Scheduler) newCommitGate() *commitGate { return &commitGate{s: s} }

// settle is the commit's callback; it runs on the committer goroutine,
// which must not wait: the executions are launched from s.dispatches'
// goroutine. Published before the executions are sent, so that an
// attempt's start comes before its end.
func (g *commitGate) settle(err error) {
	if err == nil {
		g.s.emitExecutions(g.w.Executions)
	}
	g.w = store.Writes{}
	g.mu.Lock()
	g.settled, g.err = true, err
	if g.done != nil {
		close(g.done)
	}
	g.mu.Unlock()
	if len(g.starts) > 0 {
		g.s.dispatches.push(g)
	}
}

// doneChan is closed once the commit settled.
func (g *commitGate) doneChan() <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.done == nil {
		g.done = make(chan struct{})
		if g.settled {
			close(g.done)
		}
	}
	return g.done
}

// result is the commit's error; only after doneChan is closed (or in
// dispatch, which settle calls).
func (g *commitGate) result() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.err
}

func (g *commitGate) wait(ctx context.Context) error {
	select {
	case <-g.doneChan():
		return g.result()
	case <-ctx.Done():
		return ctx.Err()
	}
}
