package scheduler_test

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/handler"
	"github.com/schedulezero/schedulezero/pkg/scheduler"
	"github.com/schedulezero/schedulezero/pkg/scheduler/schedtype"
	"github.com/schedulezero/schedulezero/pkg/store"
)

// BenchmarkHeapPerSchedule reports the live heap an engine holds per
// active interval schedule, after a collection, with 10,000 of them: what
// the scheduler's resident memory is made of, apart from the runtime, the
// binary and the pages of its bbolt file. Run it with -benchtime 1x.
func BenchmarkHeapPerSchedule(b *testing.B) {
	const n = 10000
	for range b.N {
		bb := setup(b, scheduler.Options{})
		var calls atomic.Int64
		bb.serveHandler(b, "h", 4, okMux(&calls))
		var m0, m1 runtime.MemStats
		runtime.GC()
		runtime.GC() // the second empties the sync.Pools the first moved aside
		runtime.ReadMemStats(&m0)
		for i := range n {
			if _, err := bb.engine.AddSchedule(context.Background(), schedtype.ScheduleRequest{
				ID: fmt.Sprintf("bench-%05d", i), HandlerID: "h", Method: "work", MaxAttempts: 1,
				Trigger: json.RawMessage(`{"type":"interval","seconds":3600}`),
			}); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		runtime.GC() // the second empties the sync.Pools the first moved aside
		runtime.ReadMemStats(&m1)
		b.ReportMetric(float64(m1.HeapAlloc-m0.HeapAlloc)/n, "heap-B/schedule")
		b.ReportMetric(float64(m1.HeapObjects-m0.HeapObjects)/n, "objects/schedule")
	}
}

// BenchmarkHeapPerWaitingExecution reports what an execution waiting for
// a handler slot holds: 2,000 schedules fire once on a handler with one
// slot, which its first job keeps; the live heap and the goroutine
// stacks of the 1,999 that wait, after a collection. This is what a
// handler going offline costs the scheduler per schedule that fired, and
// what a saturated handler's backlog costs per queued execution. Run it
// with -benchtime 1x.
func BenchmarkHeapPerWaitingExecution(b *testing.B) {
	const n = 2000
	for range b.N {
		bb := setup(b, scheduler.Options{})
		mux := handler.NewMux()
		mux.HandleFunc("work", func(ctx context.Context, _ *handler.Job) (any, error) {
			<-ctx.Done() // holds the one slot
			return nil, ctx.Err()
		})
		bb.serveHandler(b, "busy", 1, mux)
		var m0, m1 runtime.MemStats
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&m0)
		g0 := runtime.NumGoroutine()
		for i := range n {
			if _, err := bb.engine.AddSchedule(context.Background(), schedtype.ScheduleRequest{
				ID: fmt.Sprintf("bench-%05d", i), HandlerID: "busy", Method: "work", MaxAttempts: 1, Timeout: time.Hour,
				Trigger: json.RawMessage(`{"type":"interval","seconds":1}`),
			}); err != nil {
				b.Fatal(err)
			}
		}
		await(b, "the runs to wait", func() bool {
			st, err := bb.db.Stats(context.Background())
			return err == nil && st.ByStatus[store.StatusPending] == n-1
		})
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&m1)
		b.ReportMetric(float64(m1.HeapAlloc-m0.HeapAlloc)/(n-1), "heap-B/waiting")
		b.ReportMetric(float64(m1.StackInuse-m0.StackInuse)/(n-1), "stack-B/waiting")
		b.ReportMetric(float64(runtime.NumGoroutine()-g0)/(n-1), "goroutines/waiting")
	}
}
