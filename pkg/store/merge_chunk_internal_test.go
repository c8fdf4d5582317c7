package store

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// Successive passes of chunkKeys give every key above the previous
// chunk's, in order, k at a time, never holding more than 2k.
func TestChunkKeys_ChunksInOrderHoldingAtMostTwice(t *testing.T) {
	for _, tc := range []struct{ n, k int }{{0, 4}, {1, 4}, {4, 4}, {5, 4}, {1000, 7}, {1000, 1000}, {1000, 1}} {
		t.Run(fmt.Sprintf("n=%d,k=%d", tc.n, tc.k), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(tc.n), uint64(tc.k)))
			type entry struct{ id, ek []byte }
			var entries []entry
			var want [][]byte
			for i := range tc.n {
				e := entry{[]byte(fmt.Sprintf("s%d", rng.IntN(37))), []byte(fmt.Sprintf("%026d", i))}
				entries = append(entries, e)
				want = append(want, appendIndexKey(nil, e.id, e.ek))
			}
			slices.SortFunc(want, bytes.Compare)
			ck := chunkKeys{k: tc.k}
			var got [][]byte
			var after []byte
			for pass := 0; ; pass++ {
				if pass > tc.n/tc.k+1 {
					t.Fatalf("more than %d passes", pass)
				}
				ck.reset(after)
				for _, e := range entries {
					ck.offer(e.id, e.ek)
				}
				ck.finish()
				if ck.keys.len() > tc.k {
					t.Fatalf("pass %d kept %d keys, want at most %d", pass, ck.keys.len(), tc.k)
				}
				for i := range ck.keys.len() {
					got = append(got, bytes.Clone(ck.keys.at(i)))
				}
				if !ck.more() {
					break
				}
				after = bytes.Clone(ck.keys.at(ck.keys.len() - 1))
			}
			if !slices.EqualFunc(got, want, bytes.Equal) {
				t.Fatalf("chunks gave %d keys, want the %d in order", len(got), len(want))
			}
			if ck.peak > 2*tc.k {
				t.Errorf("held %d keys at once, want at most %d", ck.peak, 2*tc.k)
			}
		})
	}
}

// A merge holds a chunk's worth of the recent index at a time, not all of
// it, and moves every entry.
func TestMergeRecent_HoldsAtMostTwoChunks(t *testing.T) {
	const n, chunk = 600, 50
	db, err := Open(filepath.Join(t.TempDir(), "sz.db"), Options{NoSync: true, mergeRecentAt: n, mergeChunk: chunk})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	base := time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)
	var ws Writes
	for i := range n {
		ws.Executions = append(ws.Executions, Execution{ID: fmt.Sprintf("%026d", i), Attempt: 1, ScheduleID: fmt.Sprintf("s%02d", i%23),
			HandlerID: "h", Status: StatusSucceeded, ScheduledAt: base.Add(time.Duration(i) * time.Second)})
	}
	if err := db.Commit(t.Context(), ws); err != nil {
		t.Fatal(err)
	}
	// The committer merges after the commit that reached mergeRecentAt,
	// before it takes the next one: once this returns, it has merged.
	if err := db.Commit(t.Context(), Writes{Schedules: []Schedule{{ID: "x"}}}); err != nil {
		t.Fatal(err)
	}
	if by, recent := keyN2(t, db, bucketBySchedule, bucketRecent); by != n || recent != 0 {
		t.Fatalf("after the merge: idx_schedule %d, idx_schedule_recent %d entries; want %d and 0", by, recent, n)
	}
	if db.mergePeak == 0 || db.mergePeak > 2*chunk {
		t.Errorf("the merge held %d index keys at once, want 1 to %d (two chunks)", db.mergePeak, 2*chunk)
	}
	got, err := db.ListExecutions(t.Context(), ExecutionFilter{ScheduleID: "s07"})
	if err != nil {
		t.Fatal(err)
	}
	if want := (n - 7 + 22) / 23; len(got) != want {
		t.Errorf("schedule s07 lists %d executions after the merge, want %d", len(got), want)
	}
}
