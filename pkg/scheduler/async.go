package scheduler

import (
	"context"
	"sync"
	"time"

	"github.com/schedulezero/schedulezero/pkg/store"
	"github.com/schedulezero/schedulezero/pkg/wire"
)

// The fast path. Most executions are a first attempt that got a handler
// slot when it fired; once the commit that recorded it running is durable,
// dispatch sends it with Conn.Go, its reply commits the result with
// CommitLazy, and the commit's callback ends it. No goroutine waits for
// it, and it has no context or timer of its own but the call's deadline:
// with ten thousand executions in flight, their goroutine stacks and
// contexts were what the garbage collector spent most of its time on.
// A first attempt whose handler was busy or not connected at fire time
// waits in the handler's slot queue, without a goroutine, and takes this
// path when it gets a slot (slotwait.go). Anything else (a delay, a
// recovery; later, a failed or missing reply, a cancellation, a retry)
// continues on the goroutine path (run, resume).
// Which of the two an execution takes is its own state; every connection
// has Go (see Conn).

// drainer runs fn on the items pushed to it, from one goroutine that is
// started by the first push and ends when nothing is left: under load one
// goroutine works through batch after batch (no goroutine, and new stack,
// per item), and when idle none waits. fn receives the items pushed since
// its last call.
type drainer[T any] struct {
	fn func([]T)

	mu      sync.Mutex
	queue   []T
	running bool
}

func (d *drainer[T]) push(x T) {
	d.mu.Lock()
	d.queue = append(d.queue, x)
	start := !d.running
	d.running = true
	d.mu.Unlock()
	if start {
		go d.drain()
	}
}

func (d *drainer[T]) drain() {
	var batch []T
	for {
		d.mu.Lock()
		batch, d.queue = d.queue, batch[:0]
		if len(batch) == 0 {
			d.running = false
			d.mu.Unlock()
			return
		}
		d.mu.Unlock()
		d.fn(batch)
		clear(batch)
	}
}

// replied receives the outcome of the call send started, on a goroutine of
// the connection: a success is committed here; anything else is handed to
// a goroutine that records it and retries as the policy says.
func (s *Scheduler) replied(ex *execution, req wire.Request, start time.Time, r wire.Reply, err error) {
	ex.mu.Lock()
	ex.abortCall = nil
	ex.mu.Unlock()
	if err != nil || !r.Success {
		go s.resume(ex, req, start, r, err)
		return
	}
	now := s.now()
	h, conn := ex.takeSlot()
	h.release(conn, now.Sub(start), false)
	ex.end(store.StatusSucceeded, bound(r.Raw), "", now)
	// Lazy: the record joins the next fire's transaction (or waits a
	// couple of milliseconds) instead of costing one of its own.
	// ex.out is free: the fire's commit settled before the send.
	ex.out[0] = ex.rec
	s.db.CommitLazy(store.Writes{Executions: ex.out[:]}, func(err error) {
		if err == nil {
			s.emitExecutions(ex.out[:])
		}
		s.completions.push(completion{ex, err})
	})
}

// resume continues on the goroutine path an execution whose fast call did
// not succeed.
func (s *Scheduler) resume(ex *execution, req wire.Request, start time.Time, r wire.Reply, err error) {
	defer s.ended(ex)
	ctx := ex.context()
	callCtx, cancel := context.WithDeadline(ctx, start.Add(ex.timeout))
	defer cancel()
	h, conn := ex.takeSlot()
	c := call{callCtx: callCtx, ex: ex, h: h, conn: conn, req: req, start: start, reply: r, err: err}
	s.drive(ctx, ex, func() (bool, bool) { return s.outcome(ctx, c) })
}

// completion is a fast execution whose result commit has ended.
type completion struct {
	ex  *execution
	err error
}

// complete ends fast executions whose result commit has ended. The
// commit's callback runs on the committer goroutine, which must not wait
// for s.mu (a caller may hold it while it waits for a commit), so the
// callback only queues them for this, on s.completions' goroutine.
func (s *Scheduler) complete(batch []completion) {
	for _, c := range batch {
		if s.recorded(c.ex, c.err) {
			c.ex.settled = true
		}
	}
	s.mu.Lock()
	for _, c := range batch {
		s.finishedLocked(c.ex)
	}
	s.mu.Unlock()
	for _, c := range batch {
		close(c.ex.done)
		s.execWG.Done()
	}
}

// abortRunning aborts every execution in flight (the stop budget is
// spent): their contexts are not children of execCtx (see
// execution.context), and those on the fast path have none.
func (s *Scheduler) abortRunning(cause error) {
	s.mu.Lock()
	all := make([]*execution, 0, len(s.running))
	for _, ex := range s.running {
		all = append(all, ex)
	}
	s.mu.Unlock()
	for _, ex := range all {
		ex.abort(cause)
	}
}
