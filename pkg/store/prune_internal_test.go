package store

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestDB_Prune_CommitsWaitNoMoreThanAChunk prunes a backlog of 20,000
// records while committing executions one after another: the deletions
// are done in the group commits, at most pruneChunk in each, so none of
// the commits waits for more than the chunk of its own batch and the one
// before it (with a transaction of its own per chunk of 5,000, a commit
// waited for a whole chunk of them: 390 ms on a loaded 2-core machine).
func TestDB_Prune_CommitsWaitNoMoreThanAChunk(t *testing.T) {
	ctx := context.Background()
	db, err := Open(filepath.Join(t.TempDir(), "sz.db"), Options{NoSync: true, Retention: Retention{MaxCount: 1000}, PruneInterval: time.Hour})
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
	commits, worst := 0, int64(0)
	for n := 1 << 20; ; n++ {
		select {
		case err := <-pruned:
			if err != nil {
				t.Fatal(err)
			}
			// MaxCount counts the running records committed meanwhile
			// too; one may have landed after the last chunk.
			if left := records(); left < 1000 || left > 1001 {
				t.Fatalf("after Prune %d records, want 1,000 (or one more)", left)
			}
			if commits < 3 {
				t.Skipf("only %d commits during the prune: nothing to judge", commits)
			}
			t.Logf("%d commits during the prune; the most records pruned during one: %d", commits, worst)
			return
		default:
		}
		before := records()
		if err := db.Commit(ctx, Writes{Executions: []Execution{{ID: fmt.Sprintf("%026d", n), Attempt: 1, ScheduleID: "s1",
			HandlerID: "h", Method: "m", Status: StatusRunning, StartedAt: t0}}}); err != nil {
			t.Fatal(err)
		}
		commits++
		if gone := before + 1 - records(); gone > worst {
			worst = gone
		}
		// Between the two reads: a chunk done before the commit was
		// queued, the one its batch waited for, and the one in its batch.
		// Three chunks of 250: a fixed bound, so that a larger chunk fails.
		if worst > 3*250 {
			t.Fatalf("a commit waited while %d records were pruned, more than three chunks of 250", worst)
		}
	}
}
