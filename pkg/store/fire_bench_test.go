package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/store"
)

// BenchmarkFireWrite is what the engine commits for one fire of one of n
// schedules: the attempt's running record and the schedule's firing state
// (fireLocked), then its success record lazily (replied). Each op is one
// fire, committed and waited for on its own, as at 1,000 fires/s, where
// each fire finds the committer idle; fsync is off, so the op is the
// transaction's CPU and garbage, which is what delays the timer loop
// (docs/performance.md, "Fire lateness at 100,000 schedules"). B/op is
// the headline.
//
//	go test -run '^$' -bench BenchmarkFireWrite -benchmem ./pkg/store
func BenchmarkFireWrite(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run("schedules="+strconv.Itoa(n), func(b *testing.B) {
			db := openT(b, tempPath(b), store.Options{NoSync: true, MaxBatch: 1 << 20})
			defer db.Close()
			// The fill is not the benchmark's: keep it out of -memprofile.
			rate := runtime.MemProfileRate
			runtime.MemProfileRate = 0
			fillFiring(b, db, n)
			runtime.MemProfileRate = rate
			ctx := context.Background()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				sid := scheduleID((i * 7919) % n) // spread over the bucket, as evenly spread first fires are
				occ := t0.Add(time.Duration(i) * time.Millisecond)
				e := execution(1_000_000+i, 1, sid, "bench", store.StatusRunning, 0)
				st := store.Schedule{ID: sid, NextFire: occ.Add(100 * time.Second), LastFire: occ, FireCount: int64(i + 1)}
				if err := db.Commit(ctx, store.Writes{Executions: []store.Execution{e}, ScheduleStates: []store.Schedule{st}}); err != nil {
					b.Fatal(err)
				}
				e = execution(1_000_000+i, 1, sid, "bench", store.StatusSucceeded, 1)
				e.Result = json.RawMessage(`{"success":true}`)
				done := make(chan error, 1)
				db.CommitLazy(store.Writes{Executions: []store.Execution{e}}, func(err error) { done <- err })
				if err := <-done; err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

func scheduleID(i int) string { return fmt.Sprintf("scale-%07d", i) }

// fillFiring stores n interval schedules as the scale bench's firing store
// does.
func fillFiring(tb testing.TB, db *store.DB, n int) {
	tb.Helper()
	const batch = 50_000
	for lo := 0; lo < n; lo += batch {
		var w store.Writes
		for i := lo; i < min(lo+batch, n); i++ {
			first := t0.Add(time.Duration(i) * time.Millisecond)
			w.Schedules = append(w.Schedules, store.Schedule{
				ID: scheduleID(i), HandlerID: "bench", Method: "quick_aling",
				Trigger:     json.RawMessage(`{"type":"interval","seconds":100,"start_time":"` + first.Format(time.RFC3339Nano) + `"}`),
				MaxAttempts: 1, NextFire: first, CreatedAt: t0, UpdatedAt: t0,
			})
		}
		commit(tb, db, w)
	}
}
