package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/schedulezero/schedulezero/pkg/field"
)

// visits counts the records a listing's cursors step onto, by bucket.
type visits map[string]int

func (v visits) total() int {
	n := 0
	for _, c := range v {
		n += c
	}
	return n
}

// pageDB opens a store whose VisitFunc counts into *counter, with a small
// recent index (mergeAt entries at most), so that a page's visits can be
// held to the page and not to the table.
func pageDB(t *testing.T, counter *visits, mergeAt int) *DB {
	t.Helper()
	db, err := Open(filepath.Join(t.TempDir(), "sz.db"), Options{
		NoSync: true, mergeRecentAt: mergeAt,
		VisitFunc: func(b string) { (*counter)[b]++ },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// TestDB_ScheduleIDs_ReadsOnePage pages through 3,000 schedules 100 at a
// time: every ID once, in order, each page stepping onto its own 100 keys.
func TestDB_ScheduleIDs_ReadsOnePage(t *testing.T) {
	ctx := context.Background()
	v := visits{}
	db := pageDB(t, &v, 0)
	const n, limit = 3000, 100
	var all []Schedule
	for i := range n {
		all = append(all, Schedule{ID: fmt.Sprintf("s%05d", i), HandlerID: "h", Method: "m",
			Trigger: []byte(`{"type":"interval","seconds":60}`)})
	}
	if err := db.Commit(ctx, Writes{Schedules: all}); err != nil {
		t.Fatal(err)
	}
	var got []string
	after := ""
	for page := 0; ; page++ {
		clear(v)
		ids, err := db.ScheduleIDs(ctx, after, limit)
		if err != nil {
			t.Fatal(err)
		}
		if v.total() > limit {
			t.Fatalf("page %d after %q: %d records visited, want at most %d", page, after, v.total(), limit)
		}
		got = append(got, ids...)
		if len(ids) < limit {
			break
		}
		after = ids[len(ids)-1]
	}
	if len(got) != n || !slices.IsSorted(got) || got[0] != "s00000" || got[n-1] != fmt.Sprintf("s%05d", n-1) {
		t.Fatalf("paged %d ids (sorted %v), want %d in order", len(got), slices.IsSorted(got), n)
	}
	if _, err := db.ScheduleIDs(ctx, "", 0); err == nil {
		t.Error("ScheduleIDs(limit 0) = nil error, want one")
	}
}

// TestDB_EachSchedule_ReadsEachOnce checks that loading every schedule
// visits each record once and overlays the firing state written apart.
func TestDB_EachSchedule_ReadsEachOnce(t *testing.T) {
	ctx := context.Background()
	v := visits{}
	db := pageDB(t, &v, 0)
	const n = 500
	var all, states []Schedule
	next := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i := range n {
		s := Schedule{ID: fmt.Sprintf("s%04d", i), HandlerID: "h", Method: "m", Trigger: []byte(`{}`)}
		all = append(all, s)
		if i%3 == 0 {
			s.NextFire, s.FireCount = next, int64(i)
			states = append(states, s)
		}
	}
	// A state whose schedule is gone sorts between two live ones.
	if err := db.Commit(ctx, Writes{Schedules: append(all, Schedule{ID: "s0001x", HandlerID: "h", Method: "m", Trigger: []byte(`{}`)})}); err != nil {
		t.Fatal(err)
	}
	if err := db.Commit(ctx, Writes{ScheduleStates: append(states, Schedule{ID: "s0001x", FireCount: 99})}); err != nil {
		t.Fatal(err)
	}
	if err := db.Commit(ctx, Writes{DeleteSchedules: []string{"s0001x"}}); err != nil {
		t.Fatal(err)
	}
	clear(v)
	seen := 0
	err := db.EachSchedule(ctx, func(s Schedule) error {
		var i int
		if _, err := fmt.Sscanf(s.ID, "s%04d", &i); err != nil {
			return err
		}
		want := int64(0)
		if i%3 == 0 {
			want = int64(i)
		}
		if s.FireCount != want || (i%3 == 0) != s.NextFire.Equal(next) {
			return fmt.Errorf("schedule %s: fire count %d, next %v; want %d", s.ID, s.FireCount, s.NextFire, want)
		}
		seen++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen != n || v[string(bucketSchedules)] != n || v.total() != n {
		t.Fatalf("EachSchedule saw %d schedules with visits %v, want %d and %d visits", seen, v, n, n)
	}
}

// TestDB_ListExecutionsPage_ReadsOnePage pages through 6,000 attempts by
// every filter: each page holds the next records of the full listing, and
// visits at most its limit of records plus the recent index (capped at 64
// entries here).
func TestDB_ListExecutionsPage_ReadsOnePage(t *testing.T) {
	ctx := context.Background()
	v := visits{}
	const recentCap = 64
	db := pageDB(t, &v, recentCap)
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	statuses := []Status{StatusSucceeded, StatusSucceeded, StatusSucceeded, StatusFailed, StatusRunning}
	for c := range 60 {
		var w Writes
		for j := range 100 {
			n := c*100 + j
			st := statuses[n%len(statuses)]
			e := Execution{ID: fmt.Sprintf("%026d", n), Attempt: 1 + n%2, MaxAttempts: 3,
				ScheduleID: fmt.Sprintf("s%d", n%7), HandlerID: fmt.Sprintf("h%d", n%3), Method: "m", Status: st,
				StartedAt: t0.Add(time.Duration(n) * time.Second)}
			if st.Finished() {
				e.CompletedAt = e.StartedAt.Add(time.Millisecond)
			}
			w.Executions = append(w.Executions, e)
		}
		if err := db.Commit(ctx, w); err != nil {
			t.Fatal(err)
		}
	}
	filters := []ExecutionFilter{
		{},
		{ScheduleID: "s3"},
		{HandlerID: "h1"},
		{Status: StatusFailed},
		{Status: StatusRunning},
		{ScheduleID: "s2", Status: StatusSucceeded},
		{HandlerID: "h0", ScheduleID: "s4"},
		{ExecutionID: fmt.Sprintf("%026d", 4321)},
	}
	for _, f := range filters {
		t.Run(fmt.Sprintf("%+v", f), func(t *testing.T) {
			want, err := db.ListExecutions(ctx, f)
			if err != nil || len(want) == 0 {
				t.Fatalf("ListExecutions = %d records, %v", len(want), err)
			}
			const limit = 50
			var got []Execution
			f.Limit = limit
			for page := 0; ; page++ {
				clear(v)
				p, err := db.ListExecutionsPage(ctx, f)
				if err != nil {
					t.Fatal(err)
				}
				if len(p.Executions) > limit {
					t.Fatalf("page %d: %d records, limit %d", page, len(p.Executions), limit)
				}
				// A filter served by an index alone visits its page; one
				// that tests what an index does not hold (a finished status,
				// a second id) is bounded by PageScan instead.
				bound := limit + recentCap
				indexed := 0
				for _, on := range []bool{f.ScheduleID != "", f.HandlerID != "", f.Status != "" && f.Status.Finished()} {
					if on {
						indexed++
					}
				}
				if indexed > 1 || (f.Status != "" && f.Status.Finished()) {
					bound = PageScan + recentCap
				}
				if v.total() > bound {
					t.Fatalf("page %d: visited %v (%d), want at most %d", page, v, v.total(), bound)
				}
				got = append(got, p.Executions...)
				if p.Next == "" {
					break
				}
				f.Cursor = p.Next
			}
			if len(got) != len(want) {
				t.Fatalf("paged %d records, want %d", len(got), len(want))
			}
			for i := range got {
				if got[i].ID != want[i].ID || got[i].Attempt != want[i].Attempt {
					t.Fatalf("record %d: %s/%d, want %s/%d", i, got[i].ID, got[i].Attempt, want[i].ID, want[i].Attempt)
				}
			}
		})
	}
}

// TestDB_ListExecutionsPage_SparseFilterIsBounded: a status that one record
// in 3,000 has is not hunted for through the whole history in one page.
func TestDB_ListExecutionsPage_SparseFilterIsBounded(t *testing.T) {
	ctx := context.Background()
	v := visits{}
	db := pageDB(t, &v, 0)
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var w Writes
	for n := range 3 * PageScan {
		st := StatusSucceeded
		if n == 0 {
			st = StatusTimedOut // the oldest
		}
		w.Executions = append(w.Executions, Execution{ID: fmt.Sprintf("%026d", n), Attempt: 1, ScheduleID: "s", HandlerID: "h",
			Method: "m", Status: st, StartedAt: t0, CompletedAt: t0})
	}
	if err := db.Commit(ctx, w); err != nil {
		t.Fatal(err)
	}
	f := ExecutionFilter{Status: StatusTimedOut, Limit: 10}
	var found []Execution
	pages := 0
	for ; ; pages++ {
		clear(v)
		p, err := db.ListExecutionsPage(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		if v.total() > PageScan {
			t.Fatalf("page %d visited %d records, want at most PageScan (%d)", pages, v.total(), PageScan)
		}
		found = append(found, p.Executions...)
		if p.Next == "" {
			break
		}
		f.Cursor = p.Next
	}
	// The third page reaches the oldest record and its bound at once, so a
	// fourth, empty, one may say the end.
	if len(found) != 1 || found[0].ID != fmt.Sprintf("%026d", 0) || pages < 2 || pages > 3 {
		t.Fatalf("found %d records in %d pages, want the one timeout in the third or fourth", len(found), pages+1)
	}
	// A status no record has reads nothing.
	clear(v)
	if p, err := db.ListExecutionsPage(ctx, ExecutionFilter{Status: StatusCancelled}); err != nil || len(p.Executions) != 0 || v.total() != 0 {
		t.Fatalf("cancelled: %d records, %v, visits %v; want none", len(p.Executions), err, v)
	}
}

func TestDB_ListExecutionsPage_BadCursor(t *testing.T) {
	v := visits{}
	db := pageDB(t, &v, 0)
	for _, tok := range []string{"!!", "="} {
		_, err := db.ListExecutionsPage(context.Background(), ExecutionFilter{Cursor: tok})
		var fe *field.Error
		if !errors.As(err, &fe) || fe.Field != "cursor" {
			t.Errorf("cursor %q: err %v, want a field error on cursor", tok, err)
		}
	}
}

// TestDB_EachScheduleView_SameAsEachSchedule: the view of every record
// (compact, with a source, and the legacy JSON form) holds what
// EachSchedule's copy does, and reads each record once.
func TestDB_EachScheduleView_SameAsEachSchedule(t *testing.T) {
	ctx := context.Background()
	v := visits{}
	db := pageDB(t, &v, 0)
	at := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	recs := []Schedule{
		{ID: "a", HandlerID: "h", Method: "m", Trigger: []byte(`{"type":"interval","seconds":60}`), Params: []byte(`{"n":1}`), NextFire: at, CreatedAt: at, Timeout: time.Minute},
		{ID: "b", HandlerID: "h2", Method: "m2", Timezone: "Europe/Berlin", Trigger: []byte(`{}`), Source: "file:x.schedule",
			Policy: Policy{Overlap: OverlapQueue, QueueLimit: 3}},
		{ID: "c", HandlerID: "h", Method: "m", Trigger: []byte(`{}`)},
	}
	if err := db.Commit(ctx, Writes{Schedules: recs}); err != nil {
		t.Fatal(err)
	}
	legacy, err := json.Marshal(recs[2])
	if err != nil {
		t.Fatal(err)
	}
	if err := db.bolt.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketSchedules).Put([]byte("c"), legacy) }); err != nil {
		t.Fatal(err)
	}
	var copies, views []Schedule
	if err := db.EachSchedule(ctx, func(s Schedule) error { copies = append(copies, s); return nil }); err != nil {
		t.Fatal(err)
	}
	clear(v)
	err = db.EachScheduleView(ctx, func(s Schedule) error {
		// A deep copy: the view is valid only in fn.
		b, err := json.Marshal(s)
		if err != nil {
			return err
		}
		var c Schedule
		if err := json.Unmarshal(b, &c); err != nil {
			return err
		}
		views = append(views, c)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(views) != len(recs) || v.total() != len(recs) {
		t.Fatalf("EachScheduleView saw %d schedules with visits %v, want %d", len(views), v, len(recs))
	}
	for i := range views {
		want, _ := json.Marshal(copies[i])
		got, _ := json.Marshal(views[i])
		if string(got) != string(want) {
			t.Errorf("view %s\nwant %s", got, want)
		}
	}
}
