package store

import (
	"encoding/binary"
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
// schedule returns exactly that schedule's attempts, newest first.
func TestRecentIndex_QueriesAcrossMerges(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sz.db")
	opts := Options{NoSync: true, mergeRecentAt: 7}
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
	merged := false
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
		if keyN(t, db, bucketBySchedule) > 0 && keyN(t, db, bucketRecent) > 0 {
			merged = true // the history is split between the two buckets
		}
	}
	if !merged {
		t.Fatal("the history was never split between the two buckets; the test does not test the merge")
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
	for _, b := range [][]byte{bucketBySchedule, bucketRecent} {
		if k := keyN(t, db, b); k != 0 {
			t.Errorf("%s holds %d entries after clear", b, k)
		}
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
	if db.recentN != 5 {
		t.Errorf("recentN after reopen = %d, want 5", db.recentN)
	}
	check("after reopen")
}

func keyN(t *testing.T, db *DB, bucket []byte) int {
	t.Helper()
	var n int
	if err := db.bolt.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(bucket).Stats().KeyN
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return n
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
