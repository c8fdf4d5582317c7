package store

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// groupFires is how many fires one benchmarked group commit holds, with
// the successes of as many earlier ones: under saturation a batch of the
// default 2,000 records is about that (a fire is two records, its running
// attempt and the schedule's firing state; a success one).
const groupFires = 600

// groupLoad is the saturated scheduler's group commits, built as the
// engine builds them: a fire is one Writes of its running attempt and
// its schedule's state, a success one of the final record.
type groupLoad struct {
	schedules int
	stride    int // schedule of fire n: n*stride mod schedules
	n         int // executions fired so far
	base      time.Time
}

func (g *groupLoad) sid(n int) string { return fmt.Sprintf("bench-%07d", (n*g.stride)%g.schedules) }

func (g *groupLoad) running(n int) Writes {
	at := g.base.Add(time.Duration(n) * 20 * time.Microsecond)
	e := Execution{ID: fmt.Sprintf("%026d", n), Attempt: 1, MaxAttempts: 1, ScheduleID: g.sid(n), HandlerID: "bench",
		Method: "quick_aling", Status: StatusRunning, ScheduledAt: at, StartedAt: at, Instance: "bench@1", Host: "host"}
	st := Schedule{ID: e.ScheduleID, NextFire: at.Add(200 * time.Millisecond), LastFire: at, FireCount: int64(n)}
	return Writes{Executions: []Execution{e}, ScheduleStates: []Schedule{st}}
}

func (g *groupLoad) success(n int) Writes {
	w := g.running(n)
	e := w.Executions[0]
	e.Status, e.CompletedAt, e.DurationMS = StatusSucceeded, e.StartedAt.Add(3*time.Millisecond), 3
	e.Result = json.RawMessage(`{"success":true,"message":"ding-a-ling"}`)
	return Writes{Executions: []Execution{e}}
}

// writes returns the next group commit's writes: fires new executions
// and the successes of the fires of the one before.
func (g *groupLoad) writes(fires int) []Writes {
	ws := make([]Writes, 0, 2*fires)
	for i := range fires {
		ws = append(ws, g.running(g.n+i))
		if g.n >= fires {
			ws = append(ws, g.success(g.n-fires+i))
		}
	}
	g.n += fires
	return ws
}

// commit prepares ws, as the writers' goroutines do, and applies them as
// one group commit.
func (g *groupLoad) commit(tb testing.TB, db *DB, ws []Writes) {
	tb.Helper()
	batch := make([]*request, 0, len(ws))
	var wg sync.WaitGroup
	for _, w := range ws {
		r, err := prepare(w)
		if err != nil {
			tb.Fatal(err)
		}
		r.done = func(err error) {
			if err != nil {
				tb.Error(err)
			}
			wg.Done()
		}
		batch = append(batch, r)
	}
	// Queued at once, so that the committer takes them as one batch: it
	// alone may call commitBatch (it owns the recent-index count).
	wg.Add(len(batch))
	db.mu.Lock()
	for _, r := range batch {
		if r.size > db.opts.MaxBatch-db.queued {
			tb.Fatalf("%d records do not fit one batch of %d", db.queued+r.size, db.opts.MaxBatch)
		}
		db.queue = append(db.queue, r)
		db.queued += r.size
		db.urgent++
	}
	db.cond.Signal()
	db.mu.Unlock()
	wg.Wait()
}

func openGroupLoad(tb testing.TB, schedules, stride int) (*DB, *groupLoad) {
	tb.Helper()
	db, err := Open(filepath.Join(tb.TempDir(), "sz.db"), Options{NoSync: true, mergeRecentAt: 1 << 30, mergeStatesAt: 1 << 30})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = db.Close() })
	g := &groupLoad{schedules: schedules, stride: stride, base: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}
	var w Writes
	for i := range schedules {
		w.Schedules = append(w.Schedules, Schedule{ID: fmt.Sprintf("bench-%07d", i), HandlerID: "bench", Method: "quick_aling",
			Trigger: json.RawMessage(`{"type":"interval","seconds":0.2}`), MaxAttempts: 1, CreatedAt: g.base, UpdatedAt: g.base})
	}
	if err := db.Commit(tb.Context(), w); err != nil {
		tb.Fatal(err)
	}
	return db, g
}

// BenchmarkGroupCommit is one group commit of a saturated scheduler: 600
// fires (running attempt and firing state) and the successes of 600
// earlier ones, over 10,000 schedules, with 30,000 executions already
// stored; fsync is off, so an op is the committer's CPU and garbage for
// 600 executions, prepare included (the writers' goroutines run it).
// order=ids fires the schedules in the order of their IDs, as the
// throughput phase of test/bench does (its first fires are spread in
// creation order); order=spread in no relation to it, so each fire's
// state lands on a different page.
//
//	go test -run '^$' -bench GroupCommit -benchmem ./pkg/store
func BenchmarkGroupCommit(b *testing.B) {
	for _, bc := range []struct {
		name   string
		stride int
	}{{"order=ids", 1}, {"order=spread", 7919}} {
		b.Run(bc.name, func(b *testing.B) { benchGroupCommit(b, bc.stride) })
	}
}

func benchGroupCommit(b *testing.B, stride int) {
	db, g := openGroupLoad(b, 10_000, stride)
	for range 50 {
		g.commit(b, db, g.writes(groupFires))
	}
	b.ReportAllocs()
	before := db.bolt.Stats().TxStats
	for b.Loop() {
		b.StopTimer()
		ws := g.writes(groupFires)
		b.StartTimer()
		g.commit(b, db, ws)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*groupFires), "ns/exec")
	// bbolt's work: the pages the commits wrote and the nodes they built.
	after := db.bolt.Stats().TxStats
	d := after.Sub(&before)
	b.ReportMetric(float64(d.GetWrite())/float64(b.N), "pages/op")
	b.ReportMetric(float64(d.GetNodeCount())/float64(b.N), "nodes/op")
}
