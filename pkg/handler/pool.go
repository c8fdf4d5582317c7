package handler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/schedulezero/schedulezero/pkg/wire"
)

// newTask is the admitted job req from the peer at env; key is its
// attempt's jobKey (empty without an execution id).
func (r *runner) newTask(env wire.Peer, req wire.Request, key string, batched bool) *task {
	t := &task{env: env, id: req.ID, key: key, batched: batched, values: r.values, hi: -1}
	t.job = Job{Method: req.Method, Params: req.Params, ExecutionID: req.ExecutionID, Attempt: req.Attempt,
		ScheduleID: req.ScheduleID, Handler: r.opts.Name}
	if req.DeadlineMS > 0 {
		t.deadline = time.UnixMilli(req.DeadlineMS)
		t.job.Deadline = t.deadline
	}
	return t
}

// deliver sends out, the reply of job t, where t says.
func (r *runner) deliver(t *task, out []byte) {
	if t.local != nil {
		t.local(out)
		return
	}
	r.js.Reply(t.env, out, t.batched)
}

func jobKey(executionID string, attempt int) string {
	return executionID + "/" + strconv.Itoa(attempt)
}

func (r *runner) cancel(req wire.Request) []byte {
	var p struct {
		ExecutionID string `json:"execution_id"`
		Attempt     int    `json:"attempt"`
	}
	if err := json.Unmarshal(req.Params, &p); err != nil || p.ExecutionID == "" {
		return failureReply(req.ID, errors.New("sz.cancel: params.execution_id is required"))
	}
	r.mu.Lock()
	t, ok := r.flights[jobKey(p.ExecutionID, p.Attempt)]
	r.mu.Unlock()
	if ok {
		t.cancel(context.Canceled)
		r.logger.Info("job canceled by scheduler", "execution_id", p.ExecutionID, "attempt", p.Attempt)
	}
	return wire.EncodeReply(req.ID, map[string]any{"success": true, "canceled": ok})
}

func (r *runner) runJob(t *task) {
	defer r.jobs.Done()
	// The job's context is t itself, live in the deadline heap while the
	// job runs: canceled at its deadline, by sz.cancel, or at shutdown.
	r.deadlines.add(t)
	defer r.deadlines.remove(t)
	job := &t.job
	start := time.Now()
	if r.logger.Enabled(context.Background(), slog.LevelDebug) {
		r.logger.Debug("job started", "method", job.Method, "execution_id", job.ExecutionID, "attempt", job.Attempt)
	}
	result, err := r.serve(t, job)
	// Without a journal (which keeps replies without an id) the reply is
	// encoded with its id: no second copy to put it in.
	id := ""
	if r.journal == nil {
		id = t.id
	}
	var out []byte
	if err != nil {
		r.failed.Add(1)
		if errors.Is(err, context.DeadlineExceeded) && errors.Is(t.Err(), context.DeadlineExceeded) {
			err = Timeout(err) // the job's own deadline passed
		}
		out = failureReply(id, err)
	} else {
		r.done.Add(1)
		out = wire.SuccessReply(id, result)
	}
	t.cancel(context.Canceled)           // what the job started must stop with it
	r.land(t, out, id != "", err == nil) // journaled, then sent with req.ID
	if !r.logger.Enabled(context.Background(), slog.LevelInfo) {
		r.status()
		return
	}
	attrs := []any{"method", job.Method, "execution_id", job.ExecutionID, "attempt", job.Attempt,
		"duration_ms", time.Since(start).Milliseconds(), "ok", err == nil}
	if job.ScheduleID != "" {
		attrs = append(attrs, "schedule_id", job.ScheduleID)
	}
	if err != nil {
		attrs = append(attrs, "err", err)
	}
	r.logger.Info("job finished", attrs...)
	r.status()
}

// serve waits for a slot and runs the job's handler, turning a panic
// into an error.
func (r *runner) serve(ctx context.Context, job *Job) (result any, err error) {
	if !r.mux.has(job.Method) {
		return r.mux.ServeJob(ctx, job) // the unknown-method error, without a slot
	}
	select {
	case r.slots <- struct{}{}: // a free slot, without making the context's Done
	default:
		select {
		case r.slots <- struct{}{}:
		case <-ctx.Done():
			return nil, fmt.Errorf("method %s: no free slot: %w", job.Method, ctx.Err())
		}
	}
	r.active.Add(1)
	defer func() {
		r.active.Add(-1)
		<-r.slots
		if p := recover(); p != nil {
			err = fmt.Errorf("method %s panicked: %v", job.Method, p)
		}
	}()
	return r.mux.ServeJob(ctx, job)
}

// quote is json.Marshal(s), without reflection for the common id (ASCII
// that needs no escape).
func quote(s string) ([]byte, error) {
	for i := range len(s) {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return json.Marshal(s)
		}
	}
	b := make([]byte, 0, len(s)+2)
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"'), nil
}
