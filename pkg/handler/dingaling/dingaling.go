// Package dingaling is the demo handler of the original ScheduleZero, kept
// so that existing schedules and walkthroughs keep working: every method
// counts its calls and answers with what it did. Where the original beeped,
// this one writes "a-ling!" to its log (the journal under systemd).
package dingaling

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/schedulezero/schedulezero/pkg/field"
	"github.com/schedulezero/schedulezero/pkg/handler"
)

// DingAling holds the call counter of one handler.
type DingAling struct {
	logger  *slog.Logger
	calls   atomic.Int64
	counter atomic.Int64
	now     func() time.Time
}

// New returns a DingAling logging to logger.
func New(logger *slog.Logger) *DingAling {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &DingAling{logger: logger, now: time.Now}
}

// Calls returns how many calls were served.
func (d *DingAling) Calls() int64 { return d.calls.Load() }

// Register adds the demo methods to m.
func (d *DingAling) Register(m *handler.Mux) {
	m.HandleFunc("quick_aling", d.alings("quick_aling", 1))
	m.HandleFunc("double_aling", d.alings("double_aling", 2))
	m.HandleFunc("triple_aling", d.alings("triple_aling", 3))
	m.HandleFunc("visual_ping", d.visualPing)
	m.HandleFunc("counter_test", d.counterTest)
	m.HandleFunc("test_sequence", d.testSequence)
}

func (d *DingAling) result(job *handler.Job, status string, extra map[string]any) map[string]any {
	n := d.calls.Add(1)
	out := map[string]any{"status": status, "counter": n, "timestamp": d.now().UTC().Format(time.RFC3339Nano)}
	for k, v := range extra {
		out[k] = v
	}
	return out
}

// alingResult is what the a-ling methods answer: the keys of result's map
// in the order json.Marshal writes a map's, without building one per call.
type alingResult struct {
	Alings    int    `json:"alings"`
	Counter   int64  `json:"counter"`
	Sound     string `json:"sound"`
	Status    string `json:"status"`
	Timestamp string `json:"timestamp"`
}

func (d *DingAling) alings(method string, n int) handler.HandlerFunc {
	sound := strings.TrimSpace(strings.Repeat("a-ling! ", n))
	return func(ctx context.Context, job *handler.Job) (any, error) {
		out := alingResult{Alings: n, Counter: d.calls.Add(1), Sound: sound, Status: "success",
			Timestamp: d.now().UTC().Format(time.RFC3339Nano)}
		if d.logger.Enabled(ctx, slog.LevelInfo) {
			d.logger.Info("a-ling! "+sound, "method", method, "execution_id", job.ExecutionID, "counter", out.Counter)
		}
		return out, nil
	}
}

func decode(job *handler.Job, v any) error {
	if len(job.Params) == 0 {
		return nil
	}
	if err := json.Unmarshal(job.Params, v); err != nil {
		return handler.Permanent(field.Errorf("params", "%v", err))
	}
	return nil
}

func (d *DingAling) visualPing(_ context.Context, job *handler.Job) (any, error) {
	p := struct {
		Message string `json:"message"`
	}{Message: "ping!"}
	if err := decode(job, &p); err != nil {
		return nil, err
	}
	out := d.result(job, "success", map[string]any{"message": p.Message})
	d.logger.Info("a-ling! visual ping: "+p.Message, "method", job.Method, "execution_id", job.ExecutionID, "counter", out["counter"])
	return out, nil
}

func (d *DingAling) counterTest(_ context.Context, job *handler.Job) (any, error) {
	p := struct {
		Increment *int64 `json:"increment"`
	}{}
	if err := decode(job, &p); err != nil {
		return nil, err
	}
	inc := int64(1)
	if p.Increment != nil {
		inc = *p.Increment
	}
	total := d.counter.Add(inc)
	out := d.result(job, "success", map[string]any{"increment": inc, "total": total})
	d.logger.Info(fmt.Sprintf("a-ling! counter +%d = %d", inc, total), "method", job.Method, "execution_id", job.ExecutionID, "counter", out["counter"])
	return out, nil
}

func (d *DingAling) testSequence(_ context.Context, job *handler.Job) (any, error) {
	p := struct {
		SequenceName string `json:"sequence_name"`
	}{SequenceName: "default"}
	if err := decode(job, &p); err != nil {
		return nil, err
	}
	out := d.result(job, "success", map[string]any{"sequence_name": p.SequenceName})
	d.logger.Info("a-ling! sequence "+p.SequenceName, "method", job.Method, "execution_id", job.ExecutionID, "counter", out["counter"])
	return out, nil
}
