package handler_test

import (
	"context"
	"encoding/json"
	"runtime"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/handler"
	"github.com/schedulezero/schedulezero/pkg/wire"
)

// maxJobAllocs bounds the allocations of one job through the runner, from
// the request to its decoded reply, with a result of two fields: the
// job's task (its Job and context in one), its key, the reply (encoded
// with its id) and its decoding, the in-process call's channel and
// callback. It was 23 while each job had a context.WithDeadline (its
// timerCtx, runtime timer, closure and Done channel), a Job and an
// in-flight record apart, and a reply copied once more to add its id.
const maxJobAllocs = 16

// maxJobBytes bounds the bytes those allocations take: what the
// collector's pace follows. It was 1,393 then.
const maxJobBytes = 1200

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
	call := func() {
		r, err := l.Call(ctx, req)
		if err != nil || !r.Success {
			t.Fatalf("call: %v %s", err, r.Raw)
		}
	}
	allocs := testing.AllocsPerRun(200, call)
	const runs = 1000
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		call()
	}
	runtime.ReadMemStats(&after)
	bytes := (after.TotalAlloc - before.TotalAlloc) / runs
	t.Logf("%.1f allocations, %d bytes per job", allocs, bytes)
	if allocs > maxJobAllocs {
		t.Errorf("%.1f allocations per job, want at most %d", allocs, maxJobAllocs)
	}
	if bytes > maxJobBytes {
		t.Errorf("%d bytes allocated per job, want at most %d", bytes, maxJobBytes)
	}
}
