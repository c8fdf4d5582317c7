package scheduler_test

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/schedulezero/schedulezero/pkg/scheduler"
	"github.com/schedulezero/schedulezero/pkg/scheduler/schedtype"
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
