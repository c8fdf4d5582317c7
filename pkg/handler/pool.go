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

// jobReq is one admitted job and where its reply goes: to the peer at env,
// or, for an in-process call (Local), to done.
type jobReq struct {
	env wire.Peer
	req wire.Request
	// key is the attempt's jobKey when the recv loop built it already.
	key     string
	batched bool
	done    func(reply []byte)
}

// jobKey is j's attempt's key, built at most once per job; empty without
// an execution id.
func (j *jobReq) jobKey() string {
	if j.key == "" && j.req.ExecutionID != "" {
		j.key = jobKey(j.req.ExecutionID, j.req.Attempt)
	}
	return j.key
}

// deliver sends out, the reply of job j, where j says.
func (r *runner) deliver(j jobReq, out []byte) {
	if j.done != nil {
		j.done(out)
		return
	}
	r.js.Reply(j.env, out, j.batched)
}

// workerIdle is how long a worker waits for another job before it exits.
const workerIdle = 5 * time.Second

func (r *runner) worker(j jobReq) {
	idle := time.NewTimer(workerIdle)
	defer idle.Stop()
	for {
		r.runJob(j)
		idle.Reset(workerIdle)
		select {
		case j = <-r.work:
		case <-idle.C:
			return
		case <-r.quit:
			return
		}
	}
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
	c, ok := r.running[jobKey(p.ExecutionID, p.Attempt)]
	r.mu.Unlock()
	if ok {
		c()
		r.logger.Info("job canceled by scheduler", "execution_id", p.ExecutionID, "attempt", p.Attempt)
	}
	return wire.EncodeReply(req.ID, map[string]any{"success": true, "canceled": ok})
}

func (r *runner) runJob(j jobReq) {
	defer r.jobs.Done()
	req := j.req
	job := &Job{Method: req.Method, Params: req.Params, ExecutionID: req.ExecutionID, Attempt: req.Attempt,
		ScheduleID: req.ScheduleID, Handler: r.opts.Name}
	// One context per job: a second, nested one would cost another
	// cancelCtx and its children map on every job.
	var ctx context.Context
	var cancel context.CancelFunc
	if req.DeadlineMS > 0 {
		job.Deadline = time.UnixMilli(req.DeadlineMS)
		ctx, cancel = context.WithDeadline(r.jobCtx, job.Deadline)
	} else {
		ctx, cancel = context.WithCancel(r.jobCtx)
	}
	defer cancel()
	if job.ExecutionID != "" {
		key := j.jobKey()
		r.mu.Lock()
		r.running[key] = cancel
		r.mu.Unlock()
		defer func() {
			r.mu.Lock()
			delete(r.running, key)
			r.mu.Unlock()
		}()
	}
	start := time.Now()
	if r.logger.Enabled(context.Background(), slog.LevelDebug) {
		r.logger.Debug("job started", "method", job.Method, "execution_id", job.ExecutionID, "attempt", job.Attempt)
	}
	result, err := r.serve(ctx, job)
	var out []byte
	if err != nil {
		r.failed.Add(1)
		if errors.Is(err, context.DeadlineExceeded) && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			err = Timeout(err) // the job's own deadline passed
		}
		out = failureReply("", err)
	} else {
		r.done.Add(1)
		out = wire.SuccessReply("", result)
	}
	r.land(j, out, err == nil) // journaled, then sent with req.ID
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
	case r.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("method %s: no free slot: %w", job.Method, ctx.Err())
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
