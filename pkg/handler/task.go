package handler

import (
	"context"
	"sync"
	"time"

	"github.com/schedulezero/schedulezero/pkg/wire"
)

// task is one admitted job: where its reply goes, the Job its handler
// gets, the copies waiting for its reply, and its context. It is one
// allocation per job: the context's deadline is kept by the runner's
// deadline heap (deadlines.go) instead of a runtime timer, and neither
// its deadline nor its cancellation registers it with a parent context
// (the runner cancels its live tasks itself when it stops).
type task struct {
	env wire.Peer
	id  string // the request's, which its reply carries
	// key is the attempt's jobKey (empty without an execution id).
	key     string
	batched bool
	// local, for an in-process call (Local), receives the reply instead
	// of the peer at env.
	local func(reply []byte)
	job   Job
	// waiters are the copies of the attempt that arrived while it ran,
	// each answered with its reply; under runner.mu.
	waiters []waiter

	values   context.Context // the Serve context's values, never canceled
	deadline time.Time       // zero: none
	hi       int             // index in the deadline heap; -1: not in it

	mu    sync.Mutex
	done  chan struct{} // made on the first Done, or closed at cancel
	err   error
	after []*afterFunc
}

// closedChan is the Done of a task canceled before anyone asked for it.
var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// Deadline is the job's deadline, if the scheduler sent one.
func (t *task) Deadline() (time.Time, bool) { return t.deadline, !t.deadline.IsZero() }

// Done is closed when the job's deadline passes, the scheduler cancels it
// (sz.cancel), or the runner gives up waiting for it at shutdown.
func (t *task) Done() <-chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done == nil {
		t.done = make(chan struct{})
		if t.err != nil {
			close(t.done)
		}
	}
	return t.done
}

// Err is context.DeadlineExceeded once the deadline passed, Canceled once
// the job was canceled, nil before.
func (t *task) Err() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.err
}

// Value is the Serve context's value of key. It is a context.WithoutCancel
// one: context.Cause of the job's context is then its Err.
func (t *task) Value(key any) any { return t.values.Value(key) }

// cancel ends the context with err (the first call wins) and runs the
// functions AfterFunc registered, each on its own goroutine.
func (t *task) cancel(err error) {
	t.mu.Lock()
	if t.err != nil {
		t.mu.Unlock()
		return
	}
	t.err = err
	if t.done == nil {
		t.done = closedChan
	} else {
		close(t.done)
	}
	after := t.after
	t.after = nil
	t.mu.Unlock()
	for _, a := range after {
		go a.f()
	}
}

// afterFunc is one function registered by AfterFunc.
type afterFunc struct{ f func() }

// AfterFunc arranges for f to run, on its own goroutine, once the job's
// context is done (context.AfterFunc, and contexts derived from the job's,
// use it instead of a goroutine that waits on Done). stop unregisters f
// and reports whether it did so before f was started.
func (t *task) AfterFunc(f func()) (stop func() bool) {
	a := &afterFunc{f: f}
	t.mu.Lock()
	if t.err != nil {
		t.mu.Unlock()
		go f()
		return func() bool { return false }
	}
	t.after = append(t.after, a)
	t.mu.Unlock()
	return func() bool {
		t.mu.Lock()
		defer t.mu.Unlock()
		for i, b := range t.after {
			if b == a {
				t.after = append(t.after[:i], t.after[i+1:]...)
				return true
			}
		}
		return false
	}
}

// String names the context as the context package's do.
func (t *task) String() string { return "handler.jobContext" }
