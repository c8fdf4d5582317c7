package governor

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// AddHandler validates cfg, writes its config, enables and starts it.
func (s *Supervisor) AddHandler(ctx context.Context, cfg HandlerConfig) (HandlerInfo, error) {
	if err := cfg.Validate(); err != nil {
		return HandlerInfo{}, err
	}
	if cfg.Endpoint == "" {
		ep, err := s.opts.EndpointFunc(cfg.Name)
		if err != nil {
			return HandlerInfo{}, fmt.Errorf("handler %q: %w", cfg.Name, err)
		}
		cfg.Endpoint = ep
	}
	if cfg.Scheduler == "" {
		cfg.Scheduler = s.opts.Scheduler
	}
	s.ops.Lock()
	defer s.ops.Unlock()
	s.mu.Lock()
	if _, ok := s.hs[cfg.Name]; ok {
		s.mu.Unlock()
		return HandlerInfo{}, fmt.Errorf("handler %q: %w", cfg.Name, ErrExists)
	}
	e := &entry{rec: record{Config: cfg}}
	s.hs[cfg.Name] = e
	s.mu.Unlock()
	undo := func() {
		s.mu.Lock()
		delete(s.hs, cfg.Name)
		s.mu.Unlock()
	}
	if err := saveRecord(s.opts.ConfigDir, e.rec); err != nil {
		undo()
		return HandlerInfo{}, err
	}
	if err := s.opts.Units.SetEnabled(ctx, cfg.Name, true); err != nil {
		undo()
		return HandlerInfo{}, errors.Join(fmt.Errorf("handler %q: enable: %w", cfg.Name, err), deleteRecord(s.opts.ConfigDir, cfg.Name))
	}
	if err := s.startUnit(ctx, cfg.Name); err != nil {
		return HandlerInfo{}, err // kept: it is configured and enabled; status shows the failure
	}
	s.logger.Info("handler added", "handler", cfg.Name, "kind", cfg.Kind, "endpoint", cfg.Endpoint)
	return s.HandlerStatus(ctx, cfg.Name)
}

// RemoveHandler stops the handler within timeout, disables it and deletes
// its configuration.
func (s *Supervisor) RemoveHandler(ctx context.Context, name string, timeout time.Duration) error {
	s.ops.Lock()
	defer s.ops.Unlock()
	s.mu.Lock()
	e, err := s.get(name)
	s.mu.Unlock()
	if err != nil {
		return err
	}
	if err := s.opts.Units.Stop(ctx, name, timeout); err != nil {
		return fmt.Errorf("handler %q: stop: %w", name, err)
	}
	if err := s.opts.Units.SetEnabled(ctx, name, false); err != nil {
		return fmt.Errorf("handler %q: disable: %w", name, err)
	}
	if err := deleteRecord(s.opts.ConfigDir, name); err != nil {
		return err
	}
	s.mu.Lock()
	delete(s.hs, name)
	if e.conn != nil {
		e.conn.Close() //nolint:errcheck // the handler is gone
	}
	s.mu.Unlock()
	s.logger.Info("handler removed", "handler", name)
	if s.opts.SchedulerRemoveFunc != nil {
		if err := s.opts.SchedulerRemoveFunc(ctx, name); err != nil {
			s.logger.Warn("scheduler not told of the removal; it keeps the handler offline", "handler", name, "err", err)
		}
	}
	return nil
}

// setStopped records the operator's wish.
func (s *Supervisor) setStopped(name string, stopped bool) (*entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, err := s.get(name)
	if err != nil {
		return nil, err
	}
	e.rec.Stopped = stopped
	// An operator's word is a fresh start: a new budget, no old error.
	e.restarts, e.backendRestarts, e.gaveUp, e.nextRestart, e.reason = 0, 0, false, time.Time{}, ""
	e.lastError, e.crashLogged = "", false
	return e, saveRecord(s.opts.ConfigDir, e.rec)
}

// StartHandler starts a handler and resets its restart budget.
func (s *Supervisor) StartHandler(ctx context.Context, name string) error {
	s.ops.Lock()
	defer s.ops.Unlock()
	if _, err := s.setStopped(name, false); err != nil {
		return err
	}
	s.logger.Info("handler started by operator", "handler", name)
	return s.startUnit(ctx, name)
}

// StopHandler stops a handler; the governor leaves it stopped.
func (s *Supervisor) StopHandler(ctx context.Context, name string, timeout time.Duration) error {
	s.ops.Lock()
	defer s.ops.Unlock()
	if _, err := s.setStopped(name, true); err != nil {
		return err
	}
	s.logger.Info("handler stopped by operator", "handler", name)
	if err := s.opts.Units.Stop(ctx, name, timeout); err != nil {
		return fmt.Errorf("handler %q: stop: %w", name, err)
	}
	return nil
}

// RestartHandler restarts a handler now and resets its restart budget.
func (s *Supervisor) RestartHandler(ctx context.Context, name string) error {
	s.ops.Lock()
	defer s.ops.Unlock()
	if _, err := s.setStopped(name, false); err != nil {
		return err
	}
	s.logger.Info("handler restarted by operator", "handler", name)
	if err := s.opts.Units.Stop(ctx, name, s.opts.StopTimeout); err != nil {
		return fmt.Errorf("handler %q: stop: %w", name, err)
	}
	return s.startUnit(ctx, name)
}
