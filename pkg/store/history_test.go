package store_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/store"
	"github.com/schedulezero/schedulezero/pkg/store/storetest"
)

// fixture stores a small history:
//
//	1/1 s1 h1 success 10   1/2 s1 h1 error 30
//	2/1 s2 h1 running
//	3/1 s1 h2 timeout 20
//	4/1 s2 h2 pending
//	5/1 s10 h1 success 40  (s10 shares a prefix with s1)
func fixture(t *testing.T, db *store.DB) {
	t.Helper()
	commit(t, db, store.Writes{Executions: []store.Execution{
		execution(1, 1, "s1", "h1", store.StatusSucceeded, 10),
		execution(1, 2, "s1", "h1", store.StatusFailed, 30),
		execution(2, 1, "s2", "h1", store.StatusRunning, 0),
		execution(3, 1, "s1", "h2", store.StatusTimedOut, 20),
		execution(4, 1, "s2", "h2", store.StatusPending, 0),
		execution(5, 1, "s10", "h1", store.StatusSucceeded, 40),
	}})
}

func TestDB_GetExecution(t *testing.T) {
	ctx := context.Background()
	db := storetest.New(t)
	fixture(t, db)
	commit(t, db, store.Writes{Executions: []store.Execution{{ID: xid(1) + "x", Attempt: 1, Status: store.StatusSucceeded}}})
	tests := []struct {
		name    string
		id      string
		want    []string
		wantErr error
	}{
		{"two attempts in order", xid(1), []string{"001/1", "001/2"}, nil},
		{"one attempt", xid(3), []string{"003/1"}, nil},
		{"missing", xid(9), nil, store.ErrNotFound},
		{"prefix of an id", xid(1)[:20], nil, store.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := db.GetExecution(ctx, tt.id)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if !slices.Equal(ids(got), tt.want) {
				t.Errorf("got %v, want %v", ids(got), tt.want)
			}
		})
	}
}

func TestDB_ListExecutions(t *testing.T) {
	ctx := context.Background()
	db := storetest.New(t)
	fixture(t, db)
	tests := []struct {
		name string
		f    store.ExecutionFilter
		want []string
	}{
		{"all newest first", store.ExecutionFilter{}, []string{"005/1", "004/1", "003/1", "002/1", "001/2", "001/1"}},
		{"limit", store.ExecutionFilter{Limit: 2}, []string{"005/1", "004/1"}},
		{"schedule", store.ExecutionFilter{ScheduleID: "s1"}, []string{"003/1", "001/2", "001/1"}},
		{"schedule no prefix match", store.ExecutionFilter{ScheduleID: "s10"}, []string{"005/1"}},
		{"schedule limit", store.ExecutionFilter{ScheduleID: "s1", Limit: 1}, []string{"003/1"}},
		{"handler", store.ExecutionFilter{HandlerID: "h2"}, []string{"004/1", "003/1"}},
		{"handler and status", store.ExecutionFilter{HandlerID: "h1", Status: store.StatusSucceeded}, []string{"005/1", "001/1"}},
		{"schedule and handler", store.ExecutionFilter{ScheduleID: "s2", HandlerID: "h2"}, []string{"004/1"}},
		{"execution", store.ExecutionFilter{ExecutionID: xid(1)}, []string{"001/2", "001/1"}},
		{"execution and status", store.ExecutionFilter{ExecutionID: xid(1), Status: store.StatusFailed}, []string{"001/2"}},
		{"status running (index)", store.ExecutionFilter{Status: store.StatusRunning}, []string{"002/1"}},
		{"status pending (index)", store.ExecutionFilter{Status: store.StatusPending}, []string{"004/1"}},
		{"status final (scan)", store.ExecutionFilter{Status: store.StatusTimedOut}, []string{"003/1"}},
		{"unknown schedule", store.ExecutionFilter{ScheduleID: "nope"}, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := db.ListExecutions(ctx, tt.f)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ids(got), tt.want) {
				t.Errorf("got %v, want %v", ids(got), tt.want)
			}
		})
	}
}

func TestDB_Unfinished(t *testing.T) {
	ctx := context.Background()
	db := storetest.New(t)
	fixture(t, db)
	got, err := db.Unfinished(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"002/1", "004/1"}; !slices.Equal(ids(got), want) {
		t.Errorf("Unfinished = %v, want %v", ids(got), want)
	}
	// Marking them interrupted (what recovery does) empties the index.
	for i := range got {
		got[i].Status = store.StatusInterrupted
	}
	commit(t, db, store.Writes{Executions: got})
	if got, err = db.Unfinished(ctx); err != nil || len(got) != 0 {
		t.Errorf("Unfinished after recovery = %v, %v", ids(got), err)
	}
}

func TestDB_Stats(t *testing.T) {
	ctx := context.Background()
	db := storetest.New(t)
	st, err := db.Stats(ctx)
	if err != nil || st.Total != 0 || len(st.ByStatus) != 0 || len(st.ByHandler) != 0 || st.AvgDurationMS != 0 {
		t.Fatalf("empty Stats = %+v, %v", st, err)
	}
	fixture(t, db)
	st, err = db.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := store.Stats{
		Total:         4,
		AvgDurationMS: 25,
		ByStatus: map[store.Status]int64{
			store.StatusSucceeded: 2, store.StatusFailed: 1, store.StatusRunning: 1,
			store.StatusTimedOut: 1, store.StatusPending: 1,
		},
		ByHandler: map[string]store.HandlerStats{
			"h1": {Total: 3, Succeeded: 2, Failed: 1, AvgDurationMS: 80.0 / 3},
			"h2": {Total: 1, Failed: 1, AvgDurationMS: 20},
		},
	}
	checkStats(t, st, want)

	// running → success moves one record between states without adding one.
	commit(t, db, store.Writes{Executions: []store.Execution{execution(2, 1, "s2", "h1", store.StatusSucceeded, 50)}})
	st, err = db.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want.Total, want.AvgDurationMS = 5, 30
	want.ByStatus[store.StatusSucceeded], want.ByStatus[store.StatusRunning] = 3, 0
	delete(want.ByStatus, store.StatusRunning)
	want.ByHandler["h1"] = store.HandlerStats{Total: 4, Succeeded: 3, Failed: 1, AvgDurationMS: 130.0 / 4}
	checkStats(t, st, want)

	if err := db.ClearExecutions(ctx); err != nil {
		t.Fatal(err)
	}
	st, err = db.Stats(ctx)
	if err != nil || st.Total != 0 || len(st.ByStatus) != 0 || len(st.ByHandler) != 0 {
		t.Errorf("Stats after Clear = %+v, %v", st, err)
	}
}

func checkStats(t *testing.T, got, want store.Stats) {
	t.Helper()
	if got.Total != want.Total || !near(got.AvgDurationMS, want.AvgDurationMS) || len(got.ByStatus) != len(want.ByStatus) || len(got.ByHandler) != len(want.ByHandler) {
		t.Fatalf("Stats = %+v, want %+v", got, want)
	}
	for k, v := range want.ByStatus {
		if got.ByStatus[k] != v {
			t.Errorf("ByStatus[%s] = %d, want %d", k, got.ByStatus[k], v)
		}
	}
	for k, v := range want.ByHandler {
		g := got.ByHandler[k]
		if g.Total != v.Total || g.Succeeded != v.Succeeded || g.Failed != v.Failed || !near(g.AvgDurationMS, v.AvgDurationMS) {
			t.Errorf("ByHandler[%s] = %+v, want %+v", k, g, v)
		}
	}
}

func near(a, b float64) bool { d := a - b; return d < 1e-9 && d > -1e-9 }

func TestDB_ClearExecutions(t *testing.T) {
	ctx := context.Background()
	db := storetest.New(t)
	if err := db.CreateSchedule(ctx, store.Schedule{ID: "s1"}, false); err != nil {
		t.Fatal(err)
	}
	fixture(t, db)
	if err := db.ClearExecutions(ctx); err != nil {
		t.Fatal(err)
	}
	for _, f := range []store.ExecutionFilter{{}, {ScheduleID: "s1"}, {HandlerID: "h1"}, {Status: store.StatusRunning}} {
		if got, err := db.ListExecutions(ctx, f); err != nil || len(got) != 0 {
			t.Errorf("ListExecutions(%+v) after Clear = %v, %v", f, ids(got), err)
		}
	}
	if u, err := db.Unfinished(ctx); err != nil || len(u) != 0 {
		t.Errorf("Unfinished after Clear = %v, %v", ids(u), err)
	}
	if _, err := db.GetSchedule(ctx, "s1"); err != nil {
		t.Errorf("schedule lost by Clear: %v", err)
	}
	fixture(t, db) // usable afterwards
}

func TestDB_Prune(t *testing.T) {
	ctx := context.Background()
	// fixture times: execution n starts at t0 + n minutes (+ attempt seconds).
	tests := []struct {
		name      string
		ret       store.Retention
		now       time.Time
		wantN     int
		wantLeft  []string
		wantTotal int64
	}{
		{"unlimited", store.Retention{}, t0.Add(time.Hour), 0, []string{"005/1", "004/1", "003/1", "002/1", "001/2", "001/1"}, 4},
		{"count keeps unfinished", store.Retention{MaxCount: 3}, t0, 3, []string{"005/1", "004/1", "002/1"}, 1},
		{"count above size", store.Retention{MaxCount: 10}, t0, 0, []string{"005/1", "004/1", "003/1", "002/1", "001/2", "001/1"}, 4},
		{"age", store.Retention{MaxAge: time.Minute}, t0.Add(4*time.Minute + 30*time.Second), 3, []string{"005/1", "004/1", "002/1"}, 1},
		{"age nothing old", store.Retention{MaxAge: time.Hour}, t0.Add(time.Minute), 0, []string{"005/1", "004/1", "003/1", "002/1", "001/2", "001/1"}, 4},
		{"age and count", store.Retention{MaxAge: 3*time.Minute + 30*time.Second, MaxCount: 4}, t0.Add(4*time.Minute + 30*time.Second), 2, []string{"005/1", "004/1", "003/1", "002/1"}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := storetest.NewWithOptions(t, store.Options{NoSync: true, Retention: tt.ret, PruneInterval: time.Hour})
			fixture(t, db)
			n, err := db.Prune(ctx, tt.now)
			if err != nil || n != tt.wantN {
				t.Fatalf("Prune = %d, %v; want %d", n, err, tt.wantN)
			}
			got, err := db.ListExecutions(ctx, store.ExecutionFilter{})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ids(got), tt.wantLeft) {
				t.Errorf("left %v, want %v", ids(got), tt.wantLeft)
			}
			st, err := db.Stats(ctx)
			if err != nil || st.Total != tt.wantTotal {
				t.Errorf("Stats.Total = %d, %v; want %d", st.Total, err, tt.wantTotal)
			}
			// Indexes follow the records.
			byH, err := db.ListExecutions(ctx, store.ExecutionFilter{HandlerID: "h1"})
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range byH {
				if !slices.Contains(ids(got), ids([]store.Execution{e})[0]) {
					t.Errorf("handler index returns pruned %s", e.ID)
				}
			}
		})
	}
}

// TestDB_Prune_Large crosses the per-transaction chunk.
func TestDB_Prune_Large(t *testing.T) {
	ctx := context.Background()
	db := storetest.NewWithOptions(t, store.Options{NoSync: true, Retention: store.Retention{MaxCount: 100}, PruneInterval: time.Hour})
	var w store.Writes
	for i := range 12000 {
		w.Executions = append(w.Executions, execution(i, 1, "s", "h", store.StatusSucceeded, 1))
	}
	commit(t, db, w)
	n, err := db.Prune(ctx, t0)
	if err != nil || n != 11900 {
		t.Fatalf("Prune = %d, %v; want 11900", n, err)
	}
	got, err := db.ListExecutions(ctx, store.ExecutionFilter{ScheduleID: "s", Limit: 1000})
	if err != nil || len(got) != 100 || got[99].ID != xid(11900) {
		t.Fatalf("left %d records (%v)", len(got), err)
	}
}

// TestDB_Prune_Background checks that Open's goroutine applies Retention.
func TestDB_Prune_Background(t *testing.T) {
	ctx := context.Background()
	db := storetest.NewWithOptions(t, store.Options{NoSync: true, Retention: store.Retention{MaxCount: 2}, PruneInterval: time.Millisecond})
	fixture(t, db)
	deadline := time.Now().Add(5 * time.Second)
	for {
		st, err := db.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.Total == 0 { // the four finished ones are gone, unfinished kept
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("background prune did not run: %+v", st)
		}
		time.Sleep(time.Millisecond)
	}
}
