package store

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

var slAt = time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)

func slSchedule(id string) Schedule {
	return Schedule{ID: id, HandlerID: "h", Method: "m", Trigger: []byte(`{"type":"interval","seconds":1}`), NextFire: slAt, CreatedAt: slAt}
}

func slFired(id string, n int) Schedule {
	s := slSchedule(id)
	s.NextFire, s.LastFire, s.FireCount = slAt.Add(time.Duration(n+1)*time.Second), slAt.Add(time.Duration(n)*time.Second), int64(n)
	return s
}

// schedulesSeen returns schedule id as GetSchedule, ListSchedules and
// EachScheduleView each read it.
func schedulesSeen(t *testing.T, db *DB, id string) []Schedule {
	t.Helper()
	ctx := t.Context()
	got, err := db.GetSchedule(ctx, id)
	if err != nil {
		t.Fatalf("GetSchedule %s: %v", id, err)
	}
	out := []Schedule{got}
	list, err := db.ListSchedules(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range list {
		if s.ID == id {
			out = append(out, s)
		}
	}
	err = db.EachScheduleView(ctx, func(s Schedule) error {
		if s.ID == id {
			out = append(out, s)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 3 {
		t.Fatalf("schedule %s read %d times by the three readers, want 3", id, len(out))
	}
	return out
}

func wantFireCount(t *testing.T, db *DB, id string, n int64, when string) {
	t.Helper()
	for i, s := range schedulesSeen(t, db, id) {
		if s.FireCount != n || (n > 0 && !s.NextFire.Equal(slFired(id, int(n)).NextFire)) {
			t.Fatalf("%s: reader %d sees %s fired %d times, next %v; want %d", when, i, id, s.FireCount, s.NextFire, n)
		}
	}
}

// States that only the log holds (a crash before any merge) are what
// every reader sees, across a reopen; a reopen that may merge moves them
// into schedule_state and empties the log, and they read the same.
func TestStateLog_LatestAfterReopenFromTheLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sz.db")
	keep := Options{NoSync: true, keepStateLog: true}
	db, err := Open(path, keep)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if err := db.Commit(ctx, Writes{Schedules: []Schedule{slSchedule("a"), slSchedule("b")}}); err != nil {
		t.Fatal(err)
	}
	// Fired in separate commits: a's latest is its third entry, b has one.
	for n := 1; n <= 3; n++ {
		w := Writes{ScheduleStates: []Schedule{slFired("a", n)}}
		if n == 2 {
			w.ScheduleStates = append(w.ScheduleStates, slFired("b", 7))
		}
		if err := db.Commit(ctx, w); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if db, err = Open(path, keep); err != nil {
		t.Fatal(err)
	}
	if l, s := keyN(t, db, bucketStateLog), keyN(t, db, bucketScheduleState); l != 4 || s != 0 {
		t.Fatalf("log %d entries, schedule_state %d; want 4 and 0 (states in the log only)", l, s)
	}
	wantFireCount(t, db, "a", 3, "from the log")
	wantFireCount(t, db, "b", 7, "from the log")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	if db, err = Open(path, Options{NoSync: true}); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if l, s := keyN(t, db, bucketStateLog), keyN(t, db, bucketScheduleState); l != 0 || s != 2 {
		t.Fatalf("after the merge at Open: log %d entries, schedule_state %d; want 0 and 2", l, s)
	}
	wantFireCount(t, db, "a", 3, "merged at Open")
	wantFireCount(t, db, "b", 7, "merged at Open")
}

// A whole-record write and a delete supersede the log's older states of
// that ID, before a merge and after one: a schedule deleted and created
// again with the same ID starts from its new record, not from the state
// its predecessor left in the log.
func TestStateLog_DeleteAndRecreateSupersede(t *testing.T) {
	for _, merge := range []bool{false, true} {
		t.Run(fmt.Sprintf("merged=%v", merge), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "sz.db")
			db, err := Open(path, Options{NoSync: true, keepStateLog: true})
			if err != nil {
				t.Fatal(err)
			}
			defer func() { db.Close() }()
			ctx := t.Context()
			commit := func(w Writes) {
				t.Helper()
				if err := db.Commit(ctx, w); err != nil {
					t.Fatal(err)
				}
			}
			commit(Writes{Schedules: []Schedule{slSchedule("a"), slSchedule("b"), slSchedule("c")}})
			commit(Writes{ScheduleStates: []Schedule{slFired("a", 5), slFired("b", 5), slFired("c", 5)}})
			commit(Writes{DeleteSchedules: []string{"a"}})
			commit(Writes{Schedules: []Schedule{slSchedule("a")}}) // re-created
			edited := slSchedule("b")
			edited.Method = "m2"
			commit(Writes{Schedules: []Schedule{edited}})  // whole record, fire count 0
			commit(Writes{DeleteSchedules: []string{"c"}}) // gone for good
			if merge {                                     // as a restart after a crash does
				if err := db.Close(); err != nil {
					t.Fatal(err)
				}
				if db, err = Open(path, Options{NoSync: true}); err != nil {
					t.Fatal(err)
				}
				if n := keyN(t, db, bucketStateLog); n != 0 {
					t.Fatalf("log holds %d entries after a merge", n)
				}
			}
			wantFireCount(t, db, "a", 0, "re-created")
			wantFireCount(t, db, "b", 0, "rewritten whole")
			if _, err := db.GetSchedule(ctx, "c"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("deleted schedule: %v, want ErrNotFound", err)
			}
			// Fires after it apply again, over the merged state too.
			commit(Writes{ScheduleStates: []Schedule{slFired("a", 1), slFired("c", 9)}})
			wantFireCount(t, db, "a", 1, "fired after re-creation")
			if _, err := db.GetSchedule(ctx, "c"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("a state revived deleted schedule c: %v", err)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			if db, err = Open(path, Options{NoSync: true}); err != nil {
				t.Fatal(err)
			}
			wantFireCount(t, db, "a", 1, "after a merge at Open")
			wantFireCount(t, db, "b", 0, "after a merge at Open")
			if keyN(t, db, bucketScheduleState) != 1 {
				t.Errorf("schedule_state holds %d entries, want 1 (a's)", keyN(t, db, bucketScheduleState))
			}
		})
	}
}

// The committer merges the log when it reaches mergeStatesAt entries, in
// chunks that each hold at most twice stateChunk entries however many
// schedules there are; a merge cut short leaves every state readable and
// the next one completes it. Each page of schedule_state is written about
// once per merge: with every schedule fired, the merge writes about the
// bucket's pages, not a page per state.
func TestStateLog_MergeBounded(t *testing.T) {
	const schedules, chunk = 2_000, 256
	var failAt atomic.Int32
	failAt.Store(3)
	db, err := Open(filepath.Join(t.TempDir(), "sz.db"), Options{NoSync: true, mergeStatesAt: 3 * schedules, stateChunk: chunk,
		stateMergeHook: func(i int) error {
			if i == int(failAt.Load()) {
				return errors.New("cut short")
			}
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := t.Context()
	// sync returns once the committer is done with what came before it,
	// a merge included: it commits a state of no schedule, which changes
	// nothing.
	sync := func() {
		t.Helper()
		if err := db.Commit(ctx, Writes{ScheduleStates: []Schedule{{ID: "none"}}}); err != nil {
			t.Fatal(err)
		}
	}
	var w Writes
	for i := range schedules {
		w.Schedules = append(w.Schedules, slSchedule(fmt.Sprintf("s%05d", i)))
	}
	if err := db.Commit(ctx, w); err != nil {
		t.Fatal(err)
	}
	// Every schedule fired three times, in an order unrelated to the IDs;
	// the third round fills the log, and its merge is cut short.
	for round := 1; round <= 3; round++ {
		var w Writes
		for i := range schedules {
			w.ScheduleStates = append(w.ScheduleStates, slFired(fmt.Sprintf("s%05d", (i*7919)%schedules), round))
		}
		if err := db.Commit(ctx, w); err != nil {
			t.Fatal(err)
		}
	}
	sync()
	if n := keyN(t, db, bucketStateLog); n != 3*schedules {
		t.Fatalf("a merge cut short left %d log entries, want all %d", n, 3*schedules)
	}
	wantFireCount(t, db, "s00000", 3, "merge cut short")
	wantFireCount(t, db, fmt.Sprintf("s%05d", schedules-1), 3, "merge cut short")

	failAt.Store(-1)
	before := db.bolt.Stats().TxStats
	sync() // the merge is tried again after it
	sync()
	after := db.bolt.Stats().TxStats
	d := after.Sub(&before)
	if n := keyN(t, db, bucketStateLog); n != 0 {
		t.Fatalf("log holds %d entries after a merge", n)
	}
	var statePages int
	if err := db.bolt.View(func(tx *bolt.Tx) error {
		statePages = tx.Bucket(bucketScheduleState).Stats().LeafPageN
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	t.Logf("merge of %d entries: %d pages written; schedule_state %d leaf pages", 3*schedules, d.GetWrite(), statePages)
	// Leaf pages once, with their branch pages and each chunk's meta.
	if got := int(d.GetWrite()); got > 2*statePages+3*schedules/chunk {
		t.Errorf("merge wrote %d pages for a bucket of %d", got, statePages)
	}
	for _, id := range []string{"s00000", "s01000", fmt.Sprintf("s%05d", schedules-1)} {
		wantFireCount(t, db, id, 3, "merged")
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if db.statePeak > 2*chunk || db.statePeak < chunk {
		t.Errorf("a merge held %d entries at once, want %d to %d", db.statePeak, chunk, 2*chunk)
	}
}
