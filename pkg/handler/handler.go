package handler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"
)

// Job is one attempt of one execution, as the handler sees it.
type Job struct {
	Method      string
	Params      json.RawMessage
	ExecutionID string
	Attempt     int
	// ScheduleID is the schedule that fired; empty for a one-off run or
	// an older scheduler.
	ScheduleID string
	// Deadline is zero when the scheduler sent none.
	Deadline time.Time
	// Handler is the name this handler registered under.
	Handler string
}

// Handler runs jobs. A result that marshals to a JSON object is merged into
// the reply; any other result goes under "result".
type Handler interface {
	ServeJob(ctx context.Context, job *Job) (any, error)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, job *Job) (any, error)

// ServeJob calls f.
func (f HandlerFunc) ServeJob(ctx context.Context, job *Job) (any, error) { return f(ctx, job) }

// Mux maps method names to Handlers.
type Mux struct {
	mu sync.RWMutex
	m  map[string]Handler
}

// NewMux returns an empty Mux.
func NewMux() *Mux { return &Mux{m: map[string]Handler{}} }

// Handle registers h for method. It panics on an empty method, a nil
// handler, a duplicate or a reserved name ("ping", "sz.*"), which are
// programming errors.
func (m *Mux) Handle(method string, h Handler) {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case method == "" || h == nil:
		panic("handler: Handle needs a method name and a handler")
	case method == "ping" || len(method) > 3 && method[:3] == "sz.":
		panic(fmt.Sprintf("handler: method %q is reserved", method))
	}
	if _, dup := m.m[method]; dup {
		panic(fmt.Sprintf("handler: method %q registered twice", method))
	}
	m.m[method] = h
}

// HandleFunc registers f for method.
func (m *Mux) HandleFunc(method string, f func(ctx context.Context, job *Job) (any, error)) {
	m.Handle(method, HandlerFunc(f))
}

// Methods returns the registered method names, sorted, plus the built-in
// "ping".
func (m *Mux) Methods() []string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]string, 0, len(m.m)+1)
	for k := range m.m {
		out = append(out, k)
	}
	sort.Strings(out)
	return append(out, "ping")
}

// ServeJob dispatches job to the handler of job.Method; an unknown method
// is a Permanent error.
func (m *Mux) ServeJob(ctx context.Context, job *Job) (any, error) {
	m.mu.RLock()
	h, ok := m.m[job.Method]
	m.mu.RUnlock()
	if !ok {
		return nil, Permanent(fmt.Errorf("Unknown method: %s", job.Method)) //nolint:staticcheck // the original's wording
	}
	return h.ServeJob(ctx, job)
}

func (m *Mux) has(method string) bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	_, ok := m.m[method]
	return ok
}

type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent marks err as not worth retrying: the reply carries
// "retry":false and the scheduler ends the execution with this attempt.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

// IsPermanent reports whether err was marked with Permanent.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

type timeoutError struct{ err error }

func (e *timeoutError) Error() string { return e.err.Error() }
func (e *timeoutError) Unwrap() error { return e.err }

// Timeout marks err as the job running out of time: the reply carries
// "timeout":true and the scheduler records the attempt "timeout", retried
// when the schedule's retry_on has "timeout". A job that returns an error
// wrapping context.DeadlineExceeded after its own deadline passed (ctx.Err())
// is marked so without it; Timeout is for deadlines of the job's own making,
// such as the exec kind's per-method timeout.
func Timeout(err error) error {
	if err == nil {
		return nil
	}
	return &timeoutError{err: err}
}

// IsTimeout reports whether err was marked with Timeout.
func IsTimeout(err error) bool {
	var t *timeoutError
	return errors.As(err, &t)
}

// ResultError is an error that also carries a result, merged into the
// failure reply (the exec kind returns its exit code and output this way).
type ResultError interface {
	error
	Result() any
}
