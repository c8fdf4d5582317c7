package store_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/store"
)

// BenchmarkCommitParallel measures durable (fsynced) execution throughput
// through group commit: each op is one execution, committed as running and
// then as final (two records, two Commit calls), from many goroutines as
// the engine's dispatch would. records/s is the headline number.
func BenchmarkCommitParallel(b *testing.B) {
	for _, par := range []int{16, 64, 256} {
		b.Run(fmt.Sprintf("goroutines=%d", par*2), func(b *testing.B) {
			benchCommitParallel(b, par)
		})
	}
}

func benchCommitParallel(b *testing.B, par int) {
	db := openT(b, tempPath(b), store.Options{})
	defer db.Close()
	ctx := context.Background()
	var next atomic.Int64
	b.SetParallelism(par)
	b.ReportAllocs()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := int(next.Add(1))
			sid := fmt.Sprintf("s%d", n%100)
			e := execution(n, 1, sid, "h", store.StatusRunning, 0)
			if err := db.Commit(ctx, store.Writes{Executions: []store.Execution{e}}); err != nil {
				b.Error(err)
				return
			}
			e = execution(n, 1, sid, "h", store.StatusSucceeded, 3)
			if err := db.Commit(ctx, store.Writes{Executions: []store.Execution{e}}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(2*b.N)/time.Since(start).Seconds(), "records/s")
}

// BenchmarkCommitSerial is one committer waiting for each fsync: the latency
// of a lone write on an idle store.
func BenchmarkCommitSerial(b *testing.B) {
	db := openT(b, tempPath(b), store.Options{})
	defer db.Close()
	ctx := context.Background()
	b.ReportAllocs()
	start := time.Now()
	for i := range b.N {
		e := execution(i, 1, "s", "h", store.StatusSucceeded, 1)
		if err := db.Commit(ctx, store.Writes{Executions: []store.Execution{e}}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "records/s")
}

// BenchmarkListExecutions lists the newest 100 of 50,000 records, unfiltered
// and through the schedule index.
func BenchmarkListExecutions(b *testing.B) {
	db := openT(b, tempPath(b), store.Options{NoSync: true})
	defer db.Close()
	ctx := context.Background()
	const total = 50000
	for base := 0; base < total; base += 2000 {
		var w store.Writes
		for i := base; i < base+2000; i++ {
			w.Executions = append(w.Executions, execution(i, 1, fmt.Sprintf("s%d", i%50), fmt.Sprintf("h%d", i%5), store.StatusSucceeded, 1))
		}
		commit(b, db, w)
	}
	for _, bc := range []struct {
		name string
		f    store.ExecutionFilter
	}{
		{"all", store.ExecutionFilter{Limit: 100}},
		{"schedule", store.ExecutionFilter{ScheduleID: "s7", Limit: 100}},
		{"status_scan", store.ExecutionFilter{Status: store.StatusSucceeded, Limit: 100}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				got, err := db.ListExecutions(ctx, bc.f)
				if err != nil || len(got) != 100 {
					b.Fatalf("%d, %v", len(got), err)
				}
			}
		})
	}
}

// BenchmarkCommitAsync keeps a window of executions in flight through
// CommitAsync (running, then final from the first callback), the way an
// engine that does not park a goroutine per job would use the store.
func BenchmarkCommitAsync(b *testing.B) {
	for _, window := range []int{256, 2048} {
		b.Run(fmt.Sprintf("window=%d", window), func(b *testing.B) {
			db := openT(b, tempPath(b), store.Options{})
			defer db.Close()
			sem := make(chan struct{}, window)
			fail := make(chan error, 1)
			report := func(err error) {
				select {
				case fail <- err:
				default:
				}
			}
			b.ReportAllocs()
			start := time.Now()
			for i := range b.N {
				sem <- struct{}{}
				sid := fmt.Sprintf("s%d", i%100)
				db.CommitAsync(store.Writes{Executions: []store.Execution{execution(i, 1, sid, "h", store.StatusRunning, 0)}}, func(err error) {
					if err != nil {
						report(err)
					}
					db.CommitAsync(store.Writes{Executions: []store.Execution{execution(i, 1, sid, "h", store.StatusSucceeded, 3)}}, func(err error) {
						if err != nil {
							report(err)
						}
						<-sem
					})
				})
			}
			for range window {
				sem <- struct{}{}
			}
			b.ReportMetric(float64(2*b.N)/time.Since(start).Seconds(), "records/s")
			select {
			case err := <-fail:
				b.Fatal(err)
			default:
			}
		})
	}
}
