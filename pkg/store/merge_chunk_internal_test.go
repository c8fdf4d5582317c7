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

// Successive passes of a chunk give the latest entry of every key above
// the previous chunk's, in key order, k keys at a time, never holding
// more than 2k entries: with keys offered once (the recent index) and
// keys offered many times (the state log, where the last one offered
// wins).
func TestChunk_ChunksInOrderHoldingAtMostTwice(t *testing.T) {
	for _, tc := range []struct{ n, k, keys int }{
		{0, 4, 0}, {1, 4, 0}, {4, 4, 0}, {5, 4, 0}, {1000, 7, 0}, {1000, 1000, 0}, {1000, 1, 0},
		{1, 4, 3}, {5, 4, 3}, {1000, 7, 37}, {1000, 1, 37}, {1000, 1000, 37}, {1000, 40, 50},
	} {
		t.Run(fmt.Sprintf("n=%d,k=%d,keys=%d", tc.n, tc.k, tc.keys), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(tc.n), uint64(tc.k)))
			type entry struct{ key, value []byte }
			var entries []entry
			latest := map[string][]byte{}
			for i := range tc.n {
				var key []byte
				if tc.keys == 0 { // unique: an index key of a random schedule
					key = appendIndexKey(nil, []byte(fmt.Sprintf("s%d", rng.IntN(37))), []byte(fmt.Sprintf("%026d", i)))
				} else {
					key = []byte(fmt.Sprintf("s%03d", rng.IntN(tc.keys)))
				}
				e := entry{key, []byte(fmt.Sprintf("v%d", i))}
				entries = append(entries, e)
				latest[string(e.key)] = e.value
			}
			var want []entry
			for k, v := range latest {
				want = append(want, entry{[]byte(k), v})
			}
			slices.SortFunc(want, func(a, b entry) int { return bytes.Compare(a.key, b.key) })
			ck := chunk{k: tc.k}
			var got []entry
			var after []byte
			for pass := 0; ; pass++ {
				if pass > tc.n/tc.k+1 {
					t.Fatalf("more than %d passes", pass)
				}
				ck.reset(after)
				for _, e := range entries {
					ck.offer(e.key, e.value)
				}
				ck.finish()
				if ck.len() > tc.k {
					t.Fatalf("pass %d kept %d keys, want at most %d", pass, ck.len(), tc.k)
				}
				for i := range ck.len() {
					got = append(got, entry{bytes.Clone(ck.key(i)), bytes.Clone(ck.value(i))})
				}
				if !ck.more {
					break
				}
				after = bytes.Clone(ck.key(ck.len() - 1))
			}
			eq := func(a, b entry) bool { return bytes.Equal(a.key, b.key) && bytes.Equal(a.value, b.value) }
			if !slices.EqualFunc(got, want, eq) {
				t.Fatalf("chunks gave %d entries, want the latest of each of %d keys, in order", len(got), len(want))
			}
			if ck.peak > 2*tc.k {
				t.Errorf("held %d entries at once, want at most %d", ck.peak, 2*tc.k)
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
