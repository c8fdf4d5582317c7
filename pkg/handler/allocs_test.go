package handler_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/handler"
	"github.com/schedulezero/schedulezero/pkg/wire"
)

// maxJobAllocs bounds the allocations of one job through the runner, from
// the request to its decoded reply, with a result of two fields: the
// job's task (its Job and context in one), its key, the reply and its
// decoding, the in-process call's channel and callback. It was 23 while
// each job had a context.WithDeadline (its timerCtx, runtime timer,
// closure and Done channel) and a Job and an in-flight record apart.
const maxJobAllocs = 18

// The runner's garbage per job is bounded: at thousands of jobs a second
// it is what the handler's collector works for.
func TestRunner_AllocsPerJob(t *testing.T) {
	mux := handler.NewMux()
	mux.HandleFunc("quick", func(context.Context, *handler.Job) (any, error) {
		return map[string]any{"alings": 1, "sound": "a-ling!"}, nil
	})
	l, err := handler.NewLocal(mux, handler.Options{Name: "allocs", Concurrency: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Stop(context.Background()) }()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req := wire.Request{Method: "quick", Params: json.RawMessage(`{"n":1}`), ID: "1k", ExecutionID: "01JABCDEFGHJKMNPQRSTVWXYZ0",
		ScheduleID: "nightly", Attempt: 1, DeadlineMS: time.Now().Add(time.Hour).UnixMilli()}
	allocs := testing.AllocsPerRun(200, func() {
		r, err := l.Call(ctx, req)
		if err != nil || !r.Success {
			t.Fatalf("call: %v %s", err, r.Raw)
		}
	})
	t.Logf("%.1f allocations per job", allocs)
	if allocs > maxJobAllocs {
		t.Errorf("%.1f allocations per job, want at most %d", allocs, maxJobAllocs)
	}
}
