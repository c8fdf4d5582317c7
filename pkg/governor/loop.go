package governor

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/schedulezero/schedulezero/pkg/wire"
)

// loop turns until ctx is done: a health check every CheckInterval, due
// restarts on time, and a look at any handler whose unit changed state.
func (s *Supervisor) loop(ctx context.Context, watch <-chan UnitState) {
	defer close(s.done)
	timer := time.NewTimer(0)
	defer timer.Stop()
	nextCheck := s.now()
	for {
		s.heartbeat.Store(s.now().UnixNano())
		wake := nextCheck
		s.mu.Lock()
		for _, e := range s.hs {
			if !e.nextRestart.IsZero() && e.nextRestart.Before(wake) {
				wake = e.nextRestart
			}
		}
		s.mu.Unlock()
		timer.Reset(max(wake.Sub(s.now()), 0))
		select {
		case <-ctx.Done():
			return
		case st, ok := <-watch:
			if !ok {
				watch = nil // the backend ended it; checks still run
				continue
			}
			s.evaluate(ctx, st.Name)
		case <-s.kick:
		case <-timer.C:
		}
		now := s.now()
		if !now.Before(nextCheck) {
			s.check(ctx)
			nextCheck = s.now().Add(s.opts.CheckInterval)
		}
		s.restartDue(ctx, s.now())
	}
}

// evaluate re-reads one handler's state and applies the restart policy
// to what it finds: a restart the backend did by itself, a crash the
// backend is about to restart, or a unit down against the operator's
// wish.
func (s *Supervisor) evaluate(ctx context.Context, name string) {
	// Under ops, no add, stop or restart is half done: a handler being
	// added is not yet started, one being stopped is meant to be down.
	s.ops.Lock()
	defer s.ops.Unlock()
	sctx, cancel := context.WithTimeout(ctx, s.opts.PingTimeout+time.Second)
	defer cancel()
	st, err := s.opts.Units.State(sctx, name)
	if err != nil {
		if ctx.Err() == nil {
			s.logger.Warn("read handler state", "handler", name, "err", err)
		}
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.hs[name]; ok {
		s.observeLocked(ctx, e, st)
	}
}

// observeLocked applies the restart policy to a fresh state of e.
func (s *Supervisor) observeLocked(ctx context.Context, e *entry, st UnitState) {
	name := e.rec.Config.Name
	switch {
	case st.NRestarts > e.seenNRestarts:
		e.backendRestarts += st.NRestarts - e.seenNRestarts
		e.seenNRestarts = st.NRestarts
		e.crashLogged = false
		s.logger.Warn("handler restarted by the service manager", "handler", name,
			"reason", e.lastError, "restarts", e.spent(), "pid", st.MainPID)
	case st.NRestarts < e.seenNRestarts: // the unit was started afresh
		e.seenNRestarts = st.NRestarts
	}
	if e.rec.Stopped || e.gaveUp || !e.nextRestart.IsZero() {
		return
	}
	switch {
	case st.Restarting():
		// systemd restarts it after RestartSec=; the restart spends
		// the budget all the same, and a spent budget stops it.
		reason := "crashed: " + describeExit(st)
		e.lastError = reason
		if e.crashLogged {
			return
		}
		e.crashLogged = true
		if !e.rec.Config.autoRestart() || e.spent() >= e.rec.Config.maxRestarts() {
			s.giveUpLocked(ctx, e, reason, true) // cancels the pending restart
			return
		}
		s.logger.Warn("handler crashed; the service manager restarts it", "handler", name,
			"reason", reason, "restarts", e.spent())
	case st.Down():
		verb := "crashed: "
		if st.Result == "success" {
			verb = "exited: " // cleanly, but against the operator's wish
		}
		s.scheduleLocked(ctx, e, verb+describeExit(st))
	}
}

// check reads the scheduler's view, then pings every handler that should
// run, all at once, each bounded by PingTimeout.
func (s *Supervisor) check(ctx context.Context) {
	var view map[string]string
	if s.opts.SchedulerViewFunc != nil {
		vctx, cancel := context.WithTimeout(ctx, s.opts.PingTimeout)
		v, err := s.opts.SchedulerViewFunc(vctx)
		cancel()
		if err != nil {
			s.logger.Debug("scheduler view unavailable", "err", err)
		} else {
			view = v
		}
	}
	type job struct {
		name, endpoint string
		conn           *wire.Conn
	}
	var jobs []job
	s.mu.Lock()
	for name, e := range s.hs {
		if view != nil {
			e.registered = view[name]
		}
		if e.rec.Stopped || e.gaveUp || !e.nextRestart.IsZero() {
			continue
		}
		if s.opts.PingFunc == nil && e.conn == nil && e.rec.Config.Endpoint != "" {
			e.conn = wire.Dial(e.rec.Config.Endpoint, wire.ProtocolPipelined, s.opts.Logger)
		}
		jobs = append(jobs, job{name, e.rec.Config.Endpoint, e.conn})
	}
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, j := range jobs {
		wg.Go(func() { s.checkOne(ctx, j.name, j.endpoint, j.conn) })
	}
	wg.Wait()
}

// checkOne looks at one handler: a down unit is a crash; a running one
// that fails FailedChecks pings in a row is hung.
func (s *Supervisor) checkOne(ctx context.Context, name, endpoint string, conn *wire.Conn) {
	pctx, cancel := context.WithTimeout(ctx, s.opts.PingTimeout)
	defer cancel()
	st, err := s.opts.Units.State(pctx, name)
	if err != nil {
		if ctx.Err() == nil {
			s.logger.Warn("read handler state", "handler", name, "err", err)
		}
		return
	}
	s.mu.Lock()
	e, ok := s.hs[name]
	changed := ok && st.NRestarts != e.seenNRestarts
	s.mu.Unlock()
	if st.Down() || st.Restarting() || changed {
		s.evaluate(ctx, name) // what the watch may have missed
		return
	}
	if !st.Running() {
		return // activating or deactivating: judge it next time
	}
	if endpoint == "" {
		return // no job socket known: the unit state is all there is
	}
	start := s.now()
	if s.opts.PingFunc != nil {
		err = s.opts.PingFunc(pctx, name, endpoint)
	} else {
		err = ping(pctx, conn)
	}
	rtt := s.now().Sub(start)
	if ctx.Err() != nil {
		return // shutting down: not the handler's fault
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok = s.hs[name]
	if !ok || e.rec.Stopped || !e.nextRestart.IsZero() {
		return
	}
	e.health.observe(s.now(), rtt, err)
	if err == nil {
		return
	}
	s.logger.Debug("handler ping failed", "handler", name, "failed_checks", e.health.failed, "err", err)
	if e.health.failed >= s.opts.FailedChecks {
		s.scheduleLocked(ctx, e, fmt.Sprintf("hung: %d consecutive failed pings, last: %v", e.health.failed, err))
	}
}

// ping sends the protocol's ping on the handler's job socket.
func ping(ctx context.Context, conn *wire.Conn) error {
	rep, err := conn.Call(ctx, wire.Request{Method: "ping"})
	if err != nil {
		return err
	}
	if !rep.Success {
		return fmt.Errorf("ping: %s", rep.Error)
	}
	return nil
}

// scheduleLocked applies the restart policy to a handler found down or
// hung: restart after a backoff while the budget lasts, else give up.
func (s *Supervisor) scheduleLocked(ctx context.Context, e *entry, reason string) {
	name := e.rec.Config.Name
	if e.rec.Stopped || e.gaveUp || !e.nextRestart.IsZero() {
		return
	}
	e.lastError = reason
	cfg := e.rec.Config
	if !cfg.autoRestart() || e.spent() >= cfg.maxRestarts() {
		s.giveUpLocked(ctx, e, reason, cfg.autoRestart())
		return
	}
	delay := cfg.Backoff(e.spent() + 1)
	e.nextRestart = s.now().Add(delay)
	e.reason = reason
	s.logger.Warn("handler restart scheduled", "handler", name, "reason", reason,
		"restarts", e.spent(), "delay", delay)
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// giveUpLocked leaves a handler alone: auto-restart is off or its
// restart budget is spent. With stop, the handler is stopped too: a hung
// one then holds no socket, and a crashed one loses the restart its
// backend may have pending (systemd's auto-restart).
func (s *Supervisor) giveUpLocked(ctx context.Context, e *entry, reason string, stop bool) {
	name, cfg := e.rec.Config.Name, e.rec.Config
	e.gaveUp = true
	if !cfg.autoRestart() {
		s.logger.Warn("handler down; auto-restart is off", "handler", name, "reason", reason)
	} else {
		e.lastError = fmt.Sprintf("%s; %v after %d restarts", reason, ErrBudgetExhausted, e.spent())
		s.logger.Error("handler not restarted: restart budget exhausted", "handler", name,
			"reason", reason, "restarts", e.spent(), "max_restarts", cfg.maxRestarts())
	}
	if !stop {
		return
	}
	s.bg.Go(func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.StopTimeout+5*time.Second)
		defer cancel()
		s.ops.Lock()
		defer s.ops.Unlock()
		if err := s.opts.Units.Stop(sctx, name, s.opts.StopTimeout); err != nil {
			s.logger.Warn("stop handler", "handler", name, "err", err)
		}
	})
}

// restartDue restarts every handler whose backoff has passed.
func (s *Supervisor) restartDue(ctx context.Context, now time.Time) {
	s.mu.Lock()
	var due []string
	for n, e := range s.hs {
		if !e.nextRestart.IsZero() && !now.Before(e.nextRestart) {
			due = append(due, n)
		}
	}
	s.mu.Unlock()
	for _, n := range due {
		s.restartOne(ctx, n)
	}
}

func (s *Supervisor) restartOne(ctx context.Context, name string) {
	s.ops.Lock()
	defer s.ops.Unlock()
	s.mu.Lock()
	e, ok := s.hs[name]
	if !ok || e.nextRestart.IsZero() || e.rec.Stopped {
		if ok {
			e.nextRestart = time.Time{}
		}
		s.mu.Unlock()
		return
	}
	reason := e.reason
	s.mu.Unlock()
	err := s.opts.Units.Stop(ctx, name, s.opts.StopTimeout)
	if err == nil {
		err = s.startUnit(ctx, name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e.nextRestart, e.reason = time.Time{}, ""
	e.restarts++
	if err != nil {
		if errors.Is(err, context.Canceled) && ctx.Err() != nil {
			return
		}
		e.lastError = fmt.Sprintf("%s; restart failed: %v", reason, err)
		s.logger.Error("handler restart failed", "handler", name, "reason", reason, "restarts", e.spent(), "err", err)
		return
	}
	s.logger.Warn("handler restarted", "handler", name, "reason", reason, "restarts", e.spent())
}
