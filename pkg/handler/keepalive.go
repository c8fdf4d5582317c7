package handler

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/schedulezero/schedulezero/pkg/wire"
)

// The statuses a runner reports as it stops: "stopping" when it stops
// taking jobs, "offline" once the last reply went out.
const (
	StatusStopping = "stopping"
	StatusOffline  = "offline"
)

// report tells the scheduler the handler's status and reports whether it
// was heard; a scheduler that cannot be reached costs at most 2 s.
func (r *runner) report(name, status string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := r.scheds.client().ReportStatus(ctx, name, status); err != nil {
		r.logger.Warn("report status failed", "status", status, "err", err)
		return false
	}
	return true
}

// admitJob counts a job in unless the runner is draining.
func (r *runner) admitJob() bool {
	r.admit.Lock()
	defer r.admit.Unlock()
	if r.draining.Load() {
		return false
	}
	r.jobs.Add(1)
	return true
}

// drain waits for the admitted jobs, cancels them after ShutdownTimeout,
// and reports whether they all ended (and so were answered).
func (r *runner) drain(cancelJobs context.CancelFunc) bool {
	done := make(chan struct{})
	go func() { r.jobs.Wait(); close(done) }()
	t := time.NewTimer(r.opts.ShutdownTimeout)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
	}
	r.logger.Warn("jobs still running at shutdown timeout; canceling", "running", r.active.Load())
	cancelJobs()
	t.Reset(2 * time.Second)
	select {
	case <-done:
		return true
	case <-t.C:
		r.logger.Error("jobs ignored cancellation; abandoning them", "running", r.active.Load())
		return false
	}
}

// keepAlive registers, then pings every PingInterval and registers again
// when a ping fails or the scheduler restarted.
func (r *runner) keepAlive(ctx context.Context) {
	var readyOnce sync.Once
	backoff := 100 * time.Millisecond
	reg := wire.Registration{HandlerID: r.opts.Name, Address: r.addr, Methods: r.mux.Methods(),
		Protocol: wire.ProtocolLatest, Concurrency: r.opts.Concurrency, Secret: r.opts.Secret, JobToken: r.jobToken,
		Instance: r.opts.Instance, Host: hostname(), Labels: r.opts.Labels, Heartbeat: r.opts.PingInterval}
	callTimeout := min(r.opts.PingInterval, 10*time.Second)
	pokeGap := min(time.Second, r.opts.PingInterval) // pokes ping at most this often
	var lastCall time.Time
	wait := func(d time.Duration) bool {
		r.promise(d)
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			return true
		case <-r.poke:
		}
		if gap := pokeGap - time.Since(lastCall); gap > 0 {
			r.promise(gap)
			t.Reset(gap)
			select {
			case <-ctx.Done():
				return false
			case <-t.C:
			}
		}
		return true
	}
	ok := false
	for {
		if !ok {
			r.promise(callTimeout)
			lastCall = time.Now()
			rctx, cancel := context.WithTimeout(ctx, callTimeout)
			status, err := r.scheds.client().Register(rctx, reg)
			cancel()
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				r.schedulerOK.Store(false)
				if errors.Is(err, wire.ErrRefused) {
					// A wrong or missing secret: retrying cannot help, and a
					// handler that exits with the reason shows up as a failed
					// unit instead of one that never becomes ready.
					refusal := fmt.Errorf("registration refused by %s: %w", r.scheds.endpoint(), err)
					r.refused.Store(&refusal)
					r.status()
					return
				}
				r.status()
				r.logger.Warn("registration failed; retrying", "scheduler", r.scheds.endpoint(), "err", err, "retry_in", backoff)
				r.scheds.next()
				if !wait(backoff) {
					return
				}
				backoff = min(backoff*2, r.opts.PingInterval)
				continue
			}
			ok = true
			backoff = 100 * time.Millisecond
			r.requireToken(r.scheds.client().SchedulerProtocol())
			r.registered.Store(true)
			r.schedulerOK.Store(true)
			r.logger.Info("registered with scheduler", "scheduler", r.scheds.endpoint(), "status", status)
			r.status()
			if r.opts.ReadyFunc != nil {
				readyOnce.Do(r.opts.ReadyFunc)
			}
		}
		if !wait(r.opts.PingInterval) {
			return
		}
		r.promise(callTimeout)
		lastCall = time.Now()
		pctx, cancel := context.WithTimeout(ctx, callTimeout)
		err := r.scheds.client().Ping(pctx)
		cancel()
		if err != nil && ctx.Err() == nil {
			r.logger.Warn("scheduler ping failed; registering again", "scheduler", r.scheds.endpoint(), "err", err)
			ok = false
			r.schedulerOK.Store(false)
			r.status()
		}
	}
}
