package handler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/schedulezero/schedulezero/pkg/handlername"
	"github.com/schedulezero/schedulezero/pkg/wire"
)

// Local is a handler instance that runs inside the scheduler's process
// (schedulezero-scheduler --embed): the runner of Serve without its
// sockets. The engine calls it directly as its connection to the handler
// (Call, Cancel, Close: a scheduler.Caller, which scheduler.LockStep makes a Conn), and it registers with
// the engine's registry directly, under the address
// handlername.EmbeddedAddress(Name), which no registration from the
// network may carry.
//
// Its jobs go through the same code as those of a handler process: the
// concurrency limit, the job's deadline, sz.cancel, the replies
// ("timeout", "retry":false, "not_run" while it stops), the "job finished"
// log lines. Only the transport is gone, and with it the job token: no
// peer but the engine can reach it.
type Local struct {
	r          *runner
	reg        wire.Registry
	cancelJobs context.CancelFunc
	registered atomic.Bool
	stopped    atomic.Bool // after Stop: calls are not read (wire.ErrPeerClosing)
	stopOnce   sync.Once
}

// NewLocal returns the in-process handler for h, named opts.Name, running
// up to opts.Concurrency jobs at once and waiting opts.ShutdownTimeout for
// them on Stop. The fields of opts about sockets and the scheduler
// (Endpoint, Scheduler, PingInterval, Secret, Limits) are not used.
func NewLocal(h *Mux, opts Options) (*Local, error) {
	if err := handlername.Check(opts.Name); err != nil {
		return nil, fmt.Errorf("handler: Options.Name: %w", err)
	}
	if h == nil {
		return nil, errors.New("handler: nil Mux")
	}
	setDefaults(&opts)
	r := &runner{
		opts:   opts,
		mux:    h,
		addr:   handlername.EmbeddedAddress(opts.Name),
		logger: opts.Logger.With("handler", opts.Name),
		slots:  make(chan struct{}, opts.Concurrency),
		epoch:  time.Now(),
	}
	r.newRunnerParts(context.Background())
	return &Local{r: r, cancelJobs: r.deadlines.cancelAll}, nil
}

// Addr is the address the handler registers: inproc://NAME.
func (l *Local) Addr() string { return l.r.addr }

// Name is the handler's name.
func (l *Local) Name() string { return l.r.opts.Name }

// Registration is what Start registers.
func (l *Local) Registration() wire.Registration {
	return wire.Registration{HandlerID: l.r.opts.Name, Address: l.r.addr, Methods: l.r.mux.Methods(),
		Protocol: wire.ProtocolLatest, Concurrency: l.r.opts.Concurrency}
}

// Start registers the handler with reg, the engine's registry; from then
// on the engine sends it jobs (through the Conn its DialFunc returns for
// Addr: this Local).
func (l *Local) Start(ctx context.Context, reg wire.Registry) error {
	if _, err := reg.Register(ctx, l.Registration()); err != nil {
		return fmt.Errorf("embedded handler %s: %w", l.r.opts.Name, err)
	}
	l.reg = reg
	l.registered.Store(true)
	l.r.logger.Info("handler embedded", "address", l.r.addr, "methods", len(l.r.mux.Methods()),
		"concurrency", l.r.opts.Concurrency)
	return nil
}

// Stop ends the handler as Serve does when its context ends: it takes no
// more jobs (one that arrives is answered "not_run", so the engine holds
// it), reports "stopping", waits for the running ones (bounded by
// ShutdownTimeout, then cancels them), and reports "offline". Calls after
// Stop are not run (wire.ErrUnavailable). Stop may be called more than
// once.
func (l *Local) Stop(ctx context.Context) error {
	l.stopOnce.Do(func() {
		r := l.r
		r.admit.Lock()
		r.draining.Store(true)
		r.admit.Unlock()
		reported := l.registered.Load() && l.report(ctx, StatusStopping)
		r.drain(l.cancelJobs)
		l.stopped.Store(true)
		if reported {
			l.report(ctx, StatusOffline)
		}
		l.cancelJobs()
		r.deadlines.stop()
		r.pool.stop() // idle workers exit
		r.logger.Info("handler stopped", "jobs_done", r.done.Load(), "jobs_failed", r.failed.Load())
	})
	return nil
}

// report tells the registry the handler's status, as a handler process
// does over the wire, and reports whether it was taken.
func (l *Local) report(ctx context.Context, status string) bool {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	if err := l.reg.ReportStatus(ctx, l.r.opts.Name, status); err != nil {
		l.r.logger.Warn("report status failed", "status", status, "err", err)
		return false
	}
	return true
}

// Call runs req as the job socket of a handler process would, and waits
// for its reply until ctx is done. The errors are those of wire.Conn.Call:
// wire.ErrUnavailable (wrapping wire.ErrPeerClosing) after Stop, when req
// was not run; wire.ErrTimeout when ctx ended first, when it may have
// run (the engine then sends sz.cancel).
func (l *Local) Call(ctx context.Context, req wire.Request) (wire.Reply, error) {
	r := l.r
	var out []byte
	switch {
	case l.stopped.Load():
		return wire.Reply{}, fmt.Errorf("call %s %q: %w: %w", r.addr, req.Method, wire.ErrUnavailable, wire.ErrPeerClosing)
	case req.Method == "ping":
		out = wire.EncodeReply(req.ID, map[string]any{"success": true, "message": "pong", "handler_id": r.opts.Name})
	case req.Method == wire.MethodCancel:
		out = r.cancel(req)
	case req.Method == wire.MethodKnown:
		out = r.known(req) // no journal: "unknown", and the engine retries by policy
	case !r.admitJob():
		out = notRunReply(req.ID, ErrShuttingDown)
	default:
		done := make(chan []byte, 1) // runJob never waits on it
		key := ""
		if req.ExecutionID != "" {
			key = jobKey(req.ExecutionID, req.Attempt)
		}
		t := r.newTask(nil, req, key, false)
		t.local = func(b []byte) { done <- b }
		r.takeOff(t) // for sz.cancel
		r.pool.submit(t)
		select {
		case out = <-done:
		case <-ctx.Done():
			return wire.Reply{}, fmt.Errorf("call %s %q: %w (%w)", r.addr, req.Method, wire.ErrTimeout, ctx.Err())
		}
	}
	reply, err := wire.DecodeReply(out)
	if err != nil {
		return wire.Reply{}, fmt.Errorf("call %s %q: %w", r.addr, req.Method, err)
	}
	return reply, nil
}

// Cancel asks the handler to cancel a running attempt (sz.cancel).
func (l *Local) Cancel(ctx context.Context, executionID string, attempt int) error {
	params, err := json.Marshal(map[string]any{"execution_id": executionID, "attempt": attempt})
	if err != nil {
		return fmt.Errorf("cancel %s on %s: %w", executionID, l.r.addr, err)
	}
	r, err := l.Call(ctx, wire.Request{Method: wire.MethodCancel, Params: params, ExecutionID: executionID, Attempt: attempt})
	if err != nil {
		return err
	}
	if !r.Success {
		return fmt.Errorf("cancel %s on %s: %s: %w", executionID, l.r.addr, r.Error, wire.ErrProtocol)
	}
	return nil
}

// Close does nothing: the engine closes its connection to a handler when
// the handler registers again or the engine stops, but an embedded
// handler lives as long as whoever embeds it, which calls Stop.
func (l *Local) Close() error { return nil }

// Running is how many jobs are running now.
func (l *Local) Running() int64 { return l.r.active.Load() }
