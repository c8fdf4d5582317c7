package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestRecentIndex_QueriesAcrossMerges writes executions of a few schedules
// in many commits with a merge every few entries, so that a schedule's
// history is split between idx_schedule and idx_schedule_recent, and checks
// after every commit, after deletions and after a reopen that a query by
// schedule returns exactly that schedule's attempts, newest first: with a
// merge in one transaction, in chunks of two entries, and in chunks with
// every other merge cut short after its first chunk, which leaves entries
// in both buckets until the next one.
func TestRecentIndex_QueriesAcrossMerges(t *testing.T) {
	// overlap: whether entries may (and, with merges cut short, must) be
	// seen in both buckets; a query runs while the committer merges.
	tests := []struct {
		name     string
		chunk    int
		cutShort bool
		overlap  func(bool) bool
	}{
		{name: "one transaction", chunk: 1 << 20, overlap: func(seen bool) bool { return !seen }},
		{name: "chunks of two", chunk: 2, overlap: func(bool) bool { return true }},
		{name: "every other merge cut short", chunk: 2, cutShort: true, overlap: func(seen bool) bool { return seen }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := Options{NoSync: true, mergeRecentAt: 7, mergeChunk: tt.chunk}
			if tt.cutShort {
				merges := 0
				opts.mergeHook = func(chunk int) error {
					if chunk == 0 {
						merges++
					}
					if chunk == 1 && merges%2 == 1 {
						return errors.New("cut short")
					}
					return nil
				}
			}
			testRecentIndex(t, opts, tt.overlap)
		})
	}
}

func testRecentIndex(t *testing.T, opts Options, overlapOK func(bool) bool) {
	path := filepath.Join(t.TempDir(), "sz.db")
	db, err := Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { db.Close() }()
	rng := rand.New(rand.NewPCG(1, 2))
	scheds := []string{"a", "b", "c", "a-longer-id"}
	want := map[string][]string{} // schedule -> execution keys as "id/attempt", oldest first
	base := time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)
	n := 0
	check := func(when string) {
		t.Helper()
		for _, s := range scheds {
			got, err := db.ListExecutions(t.Context(), ExecutionFilter{ScheduleID: s})
			if err != nil {
				t.Fatalf("%s: list %s: %v", when, s, err)
			}
			var gotKeys []string
			for _, e := range got {
				if e.ScheduleID != s {
					t.Fatalf("%s: list %s returned %s of schedule %s", when, s, e.ID, e.ScheduleID)
				}
				gotKeys = append(gotKeys, fmt.Sprintf("%s/%d", e.ID, e.Attempt))
			}
			w := slices.Clone(want[s])
			slices.Reverse(w)
			if !slices.Equal(gotKeys, w) {
				t.Fatalf("%s: list %s = %v, want %v", when, s, gotKeys, w)
			}
			if len(w) > 2 {
				lim, err := db.ListExecutions(t.Context(), ExecutionFilter{ScheduleID: s, Limit: 2})
				if err != nil || len(lim) != 2 || lim[0].ID+"/"+fmt.Sprint(lim[0].Attempt) != w[0] {
					t.Fatalf("%s: list %s limit 2 = %v, %v", when, s, lim, err)
				}
			}
		}
	}
	merged, overlap := false, false
	for range 12 {
		var ws Writes
		for range 1 + rng.IntN(5) {
			n++
			s := scheds[rng.IntN(len(scheds))]
			id := fmt.Sprintf("%026d", n)
			ws.Executions = append(ws.Executions, Execution{ID: id, Attempt: 1, ScheduleID: s, HandlerID: "h",
				Status: StatusSucceeded, ScheduledAt: base.Add(time.Duration(n) * time.Second)})
			want[s] = append(want[s], id+"/1")
		}
		if err := db.Commit(t.Context(), ws); err != nil {
			t.Fatal(err)
		}
		check(fmt.Sprintf("after %d executions", n))
		by, recent := keyN2(t, db, bucketBySchedule, bucketRecent)
		if by > 0 && recent > 0 {
			merged = true // the history is split between the two buckets
		}
		if by+recent > n {
			overlap = true // entries in both: a merge was cut short
		}
	}
	if !merged {
		t.Fatal("the history was never split between the two buckets; the test does not test the merge")
	}
	if !overlapOK(overlap) {
		t.Fatalf("entries seen in both buckets: %v", overlap)
	}
	// A retry of an old execution: its key sorts before merged entries.
	old := fmt.Sprintf("%026d", 1)
	var s0 string
	for s, ks := range want {
		if len(ks) > 0 && ks[0] == old+"/1" {
			s0 = s
		}
	}
	if err := db.Commit(t.Context(), Writes{Executions: []Execution{{ID: old, Attempt: 2, ScheduleID: s0, HandlerID: "h",
		Status: StatusFailed, ScheduledAt: base}}}); err != nil {
		t.Fatal(err)
	}
	want[s0] = slices.Insert(want[s0], 1, old+"/2")
	check("after a late retry")

	// Deleting the history removes the entries from both buckets.
	if err := db.ClearExecutions(t.Context()); err != nil {
		t.Fatal(err)
	}
	clear(want)
	check("after clear")
	if by, recent := keyN2(t, db, bucketBySchedule, bucketRecent); by != 0 || recent != 0 {
		t.Errorf("after clear idx_schedule holds %d entries, idx_schedule_recent %d", by, recent)
	}

	// Entries left in the recent bucket survive a reopen and are counted.
	for range 5 {
		n++
		id := fmt.Sprintf("%026d", n)
		commitOne(t, db, Execution{ID: id, Attempt: 1, ScheduleID: "a", HandlerID: "h", Status: StatusSucceeded, ScheduledAt: base})
		want["a"] = append(want["a"], id+"/1")
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, recent := keyN2(t, db, bucketBySchedule, bucketRecent); recent == 0 || db.recentN != recent {
		t.Errorf("recentN after reopen = %d, idx_schedule_recent holds %d", db.recentN, recent)
	}
	check("after reopen")
}

func keyN(t *testing.T, db *DB, bucket []byte) int {
	t.Helper()
	n, _ := keyN2(t, db, bucket, bucket)
	return n
}

// keyN2 counts the keys of two buckets, in one transaction.
func keyN2(t *testing.T, db *DB, a, b []byte) (int, int) {
	t.Helper()
	var na, nb int
	if err := db.bolt.View(func(tx *bolt.Tx) error {
		na, nb = tx.Bucket(a).Stats().KeyN, tx.Bucket(b).Stats().KeyN
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return na, nb
}

func commitOne(t *testing.T, db *DB, e Execution) {
	t.Helper()
	if err := db.Commit(t.Context(), Writes{Executions: []Execution{e}}); err != nil {
		t.Fatal(err)
	}
}

// TestMigrate_1to2 opens a schema-1 file (no idx_schedule_recent) and
// checks that it gains the bucket and keeps its history queryable.
func TestMigrate_1to2(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sz.db")
	db, err := Open(path, Options{NoSync: true, mergeRecentAt: 1})
	if err != nil {
		t.Fatal(err)
	}
	commitOne(t, db, Execution{ID: "e1", Attempt: 1, ScheduleID: "s", HandlerID: "h", Status: StatusSucceeded})
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	// Make it a version-1 file: the merge emptied the recent bucket, so
	// dropping it loses nothing.
	bdb, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := bdb.Update(func(tx *bolt.Tx) error {
		if err := tx.DeleteBucket(bucketRecent); err != nil {
			return err
		}
		var v [8]byte
		binary.BigEndian.PutUint64(v[:], 1)
		return tx.Bucket(bucketMeta).Put(keySchemaVersion, v[:])
	}); err != nil {
		t.Fatal(err)
	}
	bdb.Close()

	db, err = Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got, err := db.ListExecutions(t.Context(), ExecutionFilter{ScheduleID: "s"})
	if err != nil || len(got) != 1 || got[0].ID != "e1" {
		t.Fatalf("history after migration = %+v, %v", got, err)
	}
	commitOne(t, db, Execution{ID: "e2", Attempt: 1, ScheduleID: "s", HandlerID: "h", Status: StatusSucceeded})
	got, err = db.ListExecutions(t.Context(), ExecutionFilter{ScheduleID: "s"})
	if err != nil || len(got) != 2 || got[0].ID != "e2" {
		t.Fatalf("history after a new execution = %+v, %v", got, err)
	}
}

// An execution whose index entry a cut-short merge left in both buckets
// is pruned from both: a query by its schedule neither returns it nor
// fails on an entry without a record.
func TestRecentIndex_PruneAfterCutShortMerge(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "sz.db"), Options{
		NoSync: true, mergeRecentAt: 3, mergeChunk: 1, Retention: Retention{MaxCount: 1},
		mergeHook: func(chunk int) error {
			if chunk == 2 {
				return errors.New("cut short")
			}
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	base := time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)
	for i := range 3 {
		commitOne(t, db, Execution{ID: fmt.Sprintf("%026d", i), Attempt: 1, ScheduleID: "s", HandlerID: "h",
			Status: StatusSucceeded, ScheduledAt: base.Add(time.Duration(i) * time.Second)})
	}
	// The committer tries the merge after the commit that reached
	// mergeRecentAt, before it takes the next one: once this returns, the
	// merge has been cut short (and is retried, and cut short again, after
	// each commit; the buckets stay as they are).
	if err := db.Commit(t.Context(), Writes{Schedules: []Schedule{{ID: "x"}}}); err != nil {
		t.Fatal(err)
	}
	if by, recent := keyN2(t, db, bucketBySchedule, bucketRecent); by != 2 || recent != 3 {
		t.Fatalf("after the cut-short merge idx_schedule holds %d, idx_schedule_recent %d; want 2 and 3", by, recent)
	}
	if n, err := db.Prune(t.Context(), base.Add(time.Hour)); err != nil || n != 2 {
		t.Fatalf("Prune = %d, %v; want 2", n, err)
	}
	// The committer prunes, then retries the merge, which may already have
	// moved the entry left: it is in one bucket or both, and no other is.
	if by, recent := keyN2(t, db, bucketBySchedule, bucketRecent); by > 1 || recent > 1 || by+recent == 0 {
		t.Errorf("after pruning idx_schedule holds %d, idx_schedule_recent %d; want the one entry left", by, recent)
	}
	got, err := db.ListExecutions(t.Context(), ExecutionFilter{ScheduleID: "s"})
	if err != nil || len(got) != 1 || got[0].ID != fmt.Sprintf("%026d", 2) {
		t.Fatalf("history of s = %+v, %v", got, err)
	}
}
