package governor

import (
	"context"
	"errors"
	"fmt"
)

// HandlerStatus reports one handler.
func (s *Supervisor) HandlerStatus(ctx context.Context, name string) (HandlerInfo, error) {
	st, err := s.opts.Units.State(ctx, name)
	if err != nil {
		return HandlerInfo{}, fmt.Errorf("handler %q: state: %w", name, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, err := s.get(name)
	if err != nil {
		return HandlerInfo{}, err
	}
	return s.infoLocked(e, st), nil
}

func (s *Supervisor) infoLocked(e *entry, st UnitState) HandlerInfo {
	h := e.health.snapshot()
	cfg := e.rec.Config
	last := e.lastError
	if last == "" && st.ActiveState == StateFailed && st.Result != "" {
		last = "unit failed: " + describeExit(st)
	}
	return HandlerInfo{Name: cfg.Name, Unit: UnitName(cfg.Name), Kind: cfg.Kind, Endpoint: cfg.Endpoint,
		PID: st.MainPID, State: st.ActiveState, SubState: st.SubState, Enabled: st.Enabled,
		Restarts: e.spent(), LastError: last, Since: st.Since, MemoryBytes: st.MemoryBytes,
		Healthy: st.Running() && h.FailedChecks == 0 && h.LastSeen.After(e.started),
		Health:  h, Registered: e.registered}
}

// spent is how much of the restart budget is used: the governor's
// restarts and the backend's own.
func (e *entry) spent() int { return e.restarts + e.backendRestarts }

// ListHandlers reports every handler sorted by name.
func (s *Supervisor) ListHandlers(ctx context.Context) ([]HandlerInfo, error) {
	s.mu.Lock()
	names := s.namesLocked()
	s.mu.Unlock()
	out := make([]HandlerInfo, 0, len(names))
	for _, n := range names {
		hi, err := s.HandlerStatus(ctx, n)
		if errors.Is(err, ErrNotFound) {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, err
		}
		out = append(out, hi)
	}
	return out, nil
}

// Status reports every handler by name.
func (s *Supervisor) Status(ctx context.Context) (map[string]HandlerInfo, error) {
	list, err := s.ListHandlers(ctx)
	if err != nil {
		return nil, err
	}
	m := make(map[string]HandlerInfo, len(list))
	for _, h := range list {
		m[h.Name] = h
	}
	return m, nil
}

// HealthCheck reports whether each handler is healthy.
func (s *Supervisor) HealthCheck(ctx context.Context) (map[string]bool, error) {
	list, err := s.ListHandlers(ctx)
	if err != nil {
		return nil, err
	}
	m := make(map[string]bool, len(list))
	for _, h := range list {
		m[h.Name] = h.Healthy
	}
	return m, nil
}

// Metrics summarises the deployment.
func (s *Supervisor) Metrics(ctx context.Context) (Metrics, error) {
	st, err := s.Status(ctx)
	if err != nil {
		return Metrics{}, err
	}
	s.mu.Lock()
	running := s.running
	s.mu.Unlock()
	m := Metrics{Deployment: s.opts.Deployment, Backend: s.opts.Backend, Running: running,
		TotalServices: len(st), Services: st}
	for _, h := range st {
		if h.Healthy {
			m.HealthyServices++
		}
		m.TotalRestarts += h.Restarts
	}
	return m, nil
}
