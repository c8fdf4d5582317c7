package scheduler_test

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/scheduler"
	"github.com/schedulezero/schedulezero/pkg/store"
	"github.com/schedulezero/schedulezero/pkg/store/storetest"
)

// BenchmarkLoad starts an engine over a store of n schedules shaped as
// the scale phase of the end-to-end bench builds them (each its own start,
// params, first fire far away) and reports the time New takes to load
// them and the heap the loaded engine holds per schedule, after a
// collection: what a restarted scheduler's resident memory is made of,
// apart from the runtime, the binary and the file's pages.
//
//	go test -run '^$' -bench BenchmarkLoad -benchtime 3x ./pkg/scheduler
func BenchmarkLoad(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			ctx := context.Background()
			db := storetest.NewWithOptions(b, store.Options{NoSync: true, MaxBatch: 1 << 20})
			fillSchedules(b, db, n)
			var perSchedule, objects float64
			for range b.N {
				var m0, m1 runtime.MemStats
				runtime.GC()
				runtime.GC() // the second empties the sync.Pools the first moved aside
				runtime.ReadMemStats(&m0)
				b.StartTimer()
				eng, err := scheduler.New(ctx, scheduler.Options{Store: db})
				b.StopTimer()
				if err != nil {
					b.Fatal(err)
				}
				runtime.GC()
				runtime.GC()
				runtime.ReadMemStats(&m1)
				perSchedule = float64(m1.HeapInuse-m0.HeapInuse) / float64(n)
				objects = float64(m1.HeapObjects-m0.HeapObjects) / float64(n)
				runtime.KeepAlive(eng)
				if err := eng.Stop(ctx); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(perSchedule, "heap-B/schedule")
			b.ReportMetric(objects, "objects/schedule")
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "load-ms")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// fillSchedules commits n interval schedules, each with its own start in
// the year 2100 and small params, as the scale bench does.
func fillSchedules(tb testing.TB, db *store.DB, n int) {
	tb.Helper()
	far := time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
	created := time.Now().UTC()
	const batch = 50_000
	for lo := 0; lo < n; lo += batch {
		var w store.Writes
		for i := lo; i < min(lo+batch, n); i++ {
			first := far.Add(time.Duration(i) * time.Second)
			w.Schedules = append(w.Schedules, store.Schedule{
				ID: fmt.Sprintf("bench-%07d", i), HandlerID: "bench", Method: "quick_aling",
				Trigger:     json.RawMessage(`{"type":"interval","seconds":3600,"start_time":"` + first.Format(time.RFC3339) + `"}`),
				Params:      json.RawMessage(`{"n":` + strconv.Itoa(i) + `}`),
				MaxAttempts: 1, NextFire: first, CreatedAt: created, UpdatedAt: created,
			})
		}
		if err := db.Commit(context.Background(), w); err != nil {
			tb.Fatal(err)
		}
	}
}
