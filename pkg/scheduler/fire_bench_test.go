package scheduler_test

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/scheduler"
	"github.com/schedulezero/schedulezero/pkg/store"
	"github.com/schedulezero/schedulezero/pkg/store/storetest"
	"github.com/schedulezero/schedulezero/pkg/wire"
)

// BenchmarkFire runs an engine over a real, fsynced bbolt file holding n
// schedules, with an in-memory handler, and fires 1,000 a second in real
// time, as the scale phase of the end-to-end bench does: each op is one
// fire. It reports what the whole process allocated per fire (the engine,
// the store's transactions, the handler's calls: the garbage that makes
// the collections the timer loop runs into), the collections per 1,000
// fires, and the lateness of the fires as the engine saw it.
//
// "first": every fire is its schedule's first since the start, which
// compiles its trigger and inserts its firing state. "steady": 2,000 of
// the n schedules every 2 s, measured after one round.
//
//	go test -run '^$' -bench BenchmarkFire -benchtime 3000x ./pkg/scheduler
func BenchmarkFire(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("first/schedules=%d", n), func(b *testing.B) {
			benchFire(b, n, n, time.Duration(n)*time.Millisecond, false)
		})
		b.Run(fmt.Sprintf("steady/schedules=%d", n), func(b *testing.B) {
			benchFire(b, n, 2000, 2*time.Second, true)
		})
	}
}

// benchFire fires hot of n schedules, every `every`, spread evenly.
func benchFire(b *testing.B, n, hot int, every time.Duration, warm bool) {
	if !warm && b.N > hot {
		b.Fatalf("at most %d first fires: use -benchtime %dx", hot, hot)
	}
	ctx := context.Background()
	db := storetest.New(b)
	lead := time.Second + time.Duration(n/20_000)*time.Second // loading 100k takes a while
	start := time.Now().Add(lead).Truncate(time.Millisecond)
	rate := runtime.MemProfileRate // the fill is not the benchmark's: keep it out of -memprofile
	runtime.MemProfileRate = 0
	fillFiring(b, db, n, hot, start, every)
	runtime.MemProfileRate = rate

	var mu sync.Mutex
	var late []time.Duration
	h := &fakeHandler{}
	eng, err := scheduler.New(ctx, scheduler.Options{
		Store: db, DialFunc: h.dial, Location: time.UTC,
		LatenessFunc: func(_ string, d time.Duration) {
			mu.Lock()
			late = append(late, d)
			mu.Unlock()
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := eng.Registry().Register(ctx, wire.Registration{
		HandlerID: "bench", Address: "mem://bench", Methods: []string{"quick_aling"}, Protocol: 2, Concurrency: 256,
	}); err != nil {
		b.Fatal(err)
	}
	if err := eng.Start(ctx); err != nil {
		b.Fatal(err)
	}
	defer func() {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		_ = eng.Stop(sctx)
	}()
	from := start
	if warm {
		from = start.Add(every)
	}
	fired := func() int { mu.Lock(); defer mu.Unlock(); return len(late) }
	time.Sleep(time.Until(from)) // the window's start: a measurement window, not a wait for a condition
	skip := fired()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	b.ResetTimer()
	for fired() < skip+b.N {
		time.Sleep(10 * time.Millisecond) // fires come from the engine's clock, at 1,000/s
	}
	b.StopTimer()
	runtime.ReadMemStats(&m1)
	mu.Lock()
	ls := slices.Clone(late[skip : skip+b.N])
	mu.Unlock()
	slices.Sort(ls)
	q := func(p float64) float64 { return float64(ls[int(p*float64(len(ls)-1))].Microseconds()) / 1000 }
	b.ReportMetric(float64(m1.TotalAlloc-m0.TotalAlloc)/float64(b.N), "B/fire")
	b.ReportMetric(float64(m1.Mallocs-m0.Mallocs)/float64(b.N), "allocs/fire")
	b.ReportMetric(float64(m1.NumGC-m0.NumGC)*1000/float64(b.N), "GCs/1k-fires")
	b.ReportMetric(q(0.5), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(0, "ns/op")
}

// fillFiring stores n interval schedules, the first hot of them every
// `every` with first fires spread over one interval from start, the rest
// far in the future, as the scale bench's firing store does.
func fillFiring(tb testing.TB, db *store.DB, n, hot int, start time.Time, every time.Duration) {
	tb.Helper()
	now := time.Now().UTC()
	const batch = 50_000
	for lo := 0; lo < n; lo += batch {
		var w store.Writes
		for i := lo; i < min(lo+batch, n); i++ {
			first, sec := time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i)*time.Second), 3600.0
			if i < hot {
				first, sec = start.Add(time.Duration(int64(i)*int64(every)/int64(hot))).UTC(), every.Seconds()
			}
			trig := `{"type":"interval","seconds":` + strconv.FormatFloat(sec, 'f', -1, 64) + `,"start_time":"` + first.Format(time.RFC3339Nano) + `"}`
			w.Schedules = append(w.Schedules, store.Schedule{
				ID: fmt.Sprintf("bench-%07d", i), HandlerID: "bench", Method: "quick_aling", Trigger: json.RawMessage(trig),
				MaxAttempts: 1, NextFire: first, CreatedAt: now, UpdatedAt: now,
			})
		}
		if err := db.Commit(context.Background(), w); err != nil {
			tb.Fatal(err)
		}
	}
}
