package scheduler

import (
	"context"
	"fmt"

	"github.com/schedulezero/schedulezero/pkg/field"
	"github.com/schedulezero/schedulezero/pkg/scheduler/schedtype"
	"github.com/schedulezero/schedulezero/pkg/store"
)

// RunNow calls a handler once, records it, and waits for the final attempt.
func (s *Scheduler) RunNow(ctx context.Context, req schedtype.RunRequest) (store.Execution, error) {
	if req.HandlerID == "" {
		return store.Execution{}, field.Errorf("handler_id", "is required")
	}
	if req.Method == "" {
		return store.Execution{}, field.Errorf("job_method", "is required")
	}
	if err := s.checkMethod(req.HandlerID, req.Method); err != nil {
		return store.Execution{}, err
	}
	if req.MaxAttempts < 0 || req.MaxAttempts > maxAttemptsLimit {
		return store.Execution{}, field.Errorf("max_attempts", "is %d", req.MaxAttempts).WithFix("use 1 to %d", maxAttemptsLimit)
	}
	attempts := req.MaxAttempts
	if attempts == 0 {
		attempts = 1 // a blocking call: the caller decides whether to retry
	}
	s.mu.Lock()
	now := s.now()
	ex := s.newExecution(req.HandlerID, req.Method, req.Params, attempts, s.timeout(req.Timeout), now)
	s.claimLocked(ex, now)
	s.commitAndLaunchLocked(store.Writes{Executions: []store.Execution{ex.rec}}, ex)
	s.mu.Unlock()
	select {
	case <-ex.done:
		if !ex.settled {
			return store.Execution{}, fmt.Errorf("execution %s: %w; it runs after the restart", ex.rec.ID, errStopping)
		}
		return ex.rec, nil
	case <-ctx.Done():
		return store.Execution{}, fmt.Errorf("execution %s still running: %w", ex.rec.ID, ctx.Err())
	}
}

// Executions lists history.
func (s *Scheduler) Executions(ctx context.Context, f store.ExecutionFilter) ([]store.Execution, error) {
	return s.db.ListExecutions(ctx, f)
}

// ExecutionPage lists one page of history.
func (s *Scheduler) ExecutionPage(ctx context.Context, f store.ExecutionFilter) (store.ExecutionPage, error) {
	return s.db.ListExecutionsPage(ctx, f)
}

// Stats summarises history.
func (s *Scheduler) Stats(ctx context.Context) (store.Stats, error) { return s.db.Stats(ctx) }

// ClearExecutions empties history.
func (s *Scheduler) ClearExecutions(ctx context.Context) error { return s.db.ClearExecutions(ctx) }

// RemoveHandler forgets handler id (schedulezero handlers remove, after the
// governor stopped it): it is no longer listed or sent jobs, and fires of
// its schedules are recorded missed, saying so, until it registers again.
func (s *Scheduler) RemoveHandler(ctx context.Context, id string) error {
	return s.reg.Remove(ctx, id)
}

// Handlers lists every known handler with its live health, removed ones
// included (Status "removed"), so that their schedules can be flagged.
func (s *Scheduler) Handlers(context.Context) ([]schedtype.HandlerStatus, error) {
	views := s.reg.snapshot()
	out := make([]schedtype.HandlerStatus, len(views))
	for i, v := range views {
		out[i] = schedtype.HandlerStatus{Handler: v.rec, InFlight: v.inFlight, LatencyMS: v.latencyMS, ErrorRate: v.errorRate,
			Instances: make([]schedtype.InstanceStatus, len(v.instances))}
		for j, in := range v.instances {
			out[i].Instances[j] = schedtype.InstanceStatus{ID: in.id, Host: in.host, Address: in.address, Labels: in.labels,
				Status: in.status, Healthy: in.healthy, InFlight: in.inFlight, Limit: in.limit,
				LatencyMS: in.latencyMS, ErrorRate: in.errorRate, Errors: in.errors, LastSeen: in.lastSeen}
		}
	}
	return out, nil
}
