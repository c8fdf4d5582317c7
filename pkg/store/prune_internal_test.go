package store

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestDB_Prune_CommitsWaitNoMoreThanAChunk prunes a backlog of 20,000
// records while committing executions one after another: the deletions
// are done in the group commits, at most pruneChunk in each, so a commit
// shares its transaction with at most one chunk, and the transaction
// before it held at most one too (with a transaction of its own per chunk
// of 5,000, a commit waited for a whole chunk of them: 390 ms on a loaded
// 2-core machine). The committer's batches are judged as they are
// formed, not by reading the record count around each commit: on a
// loaded machine the test's goroutine can sleep through several batches.
func TestDB_Prune_CommitsWaitNoMoreThanAChunk(t *testing.T) {
	ctx := context.Background()
	var (
		mu                             sync.Mutex
		batches, withBoth, worstChunks int
		orders                         []*pruneOrder
		after                          []int // per batch: the commits queued after its last chunk of the prune, or all if none
		chunkAt                        []int // per batch: the index in orders of its last chunk, or -1
	)
	hook := func(batch []*request) {
		prunes, commits, since, at := 0, 0, 0, -1
		mu.Lock()
		defer mu.Unlock()
		for _, r := range batch {
			if r.prune != nil {
				prunes++
				orders = append(orders, r.prune)
				since, at = 0, len(orders)-1
			} else {
				commits++
				since++
			}
		}
		after, chunkAt = append(after, since), append(chunkAt, at)
		batches++
		if prunes > 0 && commits > 0 {
			withBoth++
		}
		worstChunks = max(worstChunks, prunes)
	}
	db, err := Open(filepath.Join(t.TempDir(), "sz.db"), Options{NoSync: true, Retention: Retention{MaxCount: 1000}, PruneInterval: time.Hour, batchHook: hook})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var w Writes
	for n := range 20000 {
		w.Executions = append(w.Executions, Execution{ID: fmt.Sprintf("%026d", n), Attempt: 1, ScheduleID: fmt.Sprintf("s%d", n%100),
			HandlerID: "h", Method: "m", Status: StatusSucceeded, StartedAt: t0, CompletedAt: t0})
	}
	if err := db.Commit(ctx, w); err != nil {
		t.Fatal(err)
	}
	records := func() int64 {
		var c *counters
		if err := db.view(ctx, func(tx *bolt.Tx) error {
			var err error
			c, err = readCounters(tx.Bucket(bucketMeta))
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return c.Records
	}
	pruned := make(chan error, 1)
	go func() { _, err := db.Prune(ctx, t0); pruned <- err }()
	for n := 1 << 20; ; n++ {
		select {
		case err := <-pruned:
			if err != nil {
				t.Fatal(err)
			}
			// MaxCount counts the running records committed meanwhile
			// too; those committed after the last chunk (in its
			// transaction or later ones) are on top.
			mu.Lock()
			defer mu.Unlock()
			extra := 0
			for i := len(chunkAt) - 1; i >= 0; i-- {
				extra += after[i]
				if chunkAt[i] == len(orders)-1 {
					break
				}
			}
			if left := records(); left < 1000 || left > 1000+int64(extra) {
				t.Fatalf("after Prune %d records, want 1,000 and the %d committed after its last chunk", left, extra)
			}
			for _, o := range orders {
				// A fixed bound, so that a larger chunk fails.
				if o.n > 250 {
					t.Fatalf("one chunk pruned %d records, more than 250", o.n)
				}
			}
			if worstChunks > 1 {
				t.Fatalf("a group commit held %d chunks of the prune, want at most one", worstChunks)
			}
			if withBoth == 0 {
				t.Skipf("no commit shared a transaction with a chunk in %d batches: nothing to judge", batches)
			}
			t.Logf("%d batches; %d held a commit and a chunk of the prune", batches, withBoth)
			return
		default:
		}
		if err := db.Commit(ctx, Writes{Executions: []Execution{{ID: fmt.Sprintf("%026d", n), Attempt: 1, ScheduleID: "s1",
			HandlerID: "h", Method: "m", Status: StatusRunning, StartedAt: t0}}}); err != nil {
			t.Fatal(err)
		}
	}
}
