package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/field"
	"github.com/schedulezero/schedulezero/pkg/store"
	"github.com/schedulezero/schedulezero/pkg/store/storetest"
)

func TestDB_Commit(t *testing.T) {
	ctx := context.Background()
	db := storetest.New(t)
	if err := db.CreateSchedule(ctx, store.Schedule{ID: "gone"}, false); err != nil {
		t.Fatal(err)
	}
	commit(t, db, store.Writes{
		Schedules:       []store.Schedule{{ID: "s1", FireCount: 1}},
		DeleteSchedules: []string{"gone", "never-existed"},
		Executions:      []store.Execution{execution(1, 1, "s1", "h1", store.StatusRunning, 0)},
	})
	if s, err := db.GetSchedule(ctx, "s1"); err != nil || s.FireCount != 1 {
		t.Errorf("GetSchedule(s1) = %+v, %v", s, err)
	}
	if _, err := db.GetSchedule(ctx, "gone"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetSchedule(gone) = %v, want ErrNotFound", err)
	}
	got, err := db.GetExecution(ctx, xid(1))
	if err != nil || len(got) != 1 || got[0].Status != store.StatusRunning {
		t.Fatalf("GetExecution = %+v, %v", got, err)
	}
	// The final record of the same attempt overwrites the running one.
	commit(t, db, store.Writes{Executions: []store.Execution{execution(1, 1, "s1", "h1", store.StatusSucceeded, 10)}})
	got, err = db.GetExecution(ctx, xid(1))
	if err != nil || len(got) != 1 || got[0].Status != store.StatusSucceeded {
		t.Fatalf("GetExecution after final = %+v, %v", got, err)
	}
	if u, err := db.Unfinished(ctx); err != nil || len(u) != 0 {
		t.Errorf("Unfinished = %v, %v; want none", ids(u), err)
	}
	if err := db.Commit(ctx, store.Writes{}); err != nil {
		t.Errorf("empty Commit = %v", err)
	}
}

func TestDB_Commit_Invalid(t *testing.T) {
	ctx := context.Background()
	db := storetest.New(t)
	ok := execution(1, 1, "s", "h", store.StatusRunning, 0)
	tests := []struct {
		name  string
		w     store.Writes
		field string
	}{
		{"schedule without id", store.Writes{Schedules: []store.Schedule{{}}}, "schedules[0].id"},
		{"delete without id", store.Writes{DeleteSchedules: []string{""}}, "delete_schedules[0]"},
		{"execution without id", store.Writes{Executions: []store.Execution{ok, {Attempt: 1, Status: "running"}}}, "executions[1].execution_id"},
		{"negative attempt", store.Writes{Executions: []store.Execution{{ID: "x", Attempt: -1, Status: "running"}}}, "executions[0].attempt_number"},
		{"no status", store.Writes{Executions: []store.Execution{{ID: "x", Attempt: 1}}}, "executions[0].status"},
		{"id too long", store.Writes{Executions: []store.Execution{{ID: strings.Repeat("x", 2000), Status: "running"}}}, "executions[0].execution_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := db.Commit(ctx, tt.w)
			var fe *field.Error
			if !errors.As(err, &fe) || fe.Field != tt.field {
				t.Fatalf("err = %v, want *field.Error on %q", err, tt.field)
			}
		})
	}
	// Nothing of the rejected Writes landed.
	if _, err := db.GetExecution(ctx, xid(1)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetExecution = %v, want ErrNotFound", err)
	}
}

// TestDB_Commit_Concurrent runs many committers, valid and invalid, through
// the group committer and checks every acknowledged record and the counters.
func TestDB_Commit_Concurrent(t *testing.T) {
	ctx := context.Background()
	db := storetest.NewWithOptions(t, store.Options{NoSync: true, MaxBatch: 50})
	const workers, per = 32, 40
	var wg sync.WaitGroup
	errs := make(chan error, workers*per*2)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				n := w*per + i
				hid := fmt.Sprintf("h%d", w%4)
				if err := db.Commit(ctx, store.Writes{
					Schedules:  []store.Schedule{{ID: fmt.Sprintf("s%d", w), FireCount: int64(i + 1)}},
					Executions: []store.Execution{execution(n, 1, fmt.Sprintf("s%d", w), hid, store.StatusRunning, 0)},
				}); err != nil {
					errs <- err
					return
				}
				if i%7 == 0 { // interleave a bad Writes: it must fail alone
					if err := db.Commit(ctx, store.Writes{Executions: []store.Execution{{ID: ""}}}); err == nil {
						errs <- errors.New("invalid Writes accepted")
					}
				}
				done := make(chan error, 1)
				db.CommitAsync(store.Writes{Executions: []store.Execution{execution(n, 1, fmt.Sprintf("s%d", w), hid, store.StatusSucceeded, 2)}},
					func(err error) { done <- err })
				if err := <-done; err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	all, err := db.ListExecutions(ctx, store.ExecutionFilter{})
	if err != nil || len(all) != workers*per {
		t.Fatalf("ListExecutions: %d records, %v; want %d", len(all), err, workers*per)
	}
	for _, e := range all {
		if e.Status != store.StatusSucceeded {
			t.Fatalf("execution %s status %s", e.ID, e.Status)
		}
	}
	st, err := db.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Total != workers*per || st.ByStatus[store.StatusSucceeded] != workers*per || st.ByStatus[store.StatusRunning] != 0 || st.AvgDurationMS != 2 {
		t.Errorf("Stats = %+v", st)
	}
	if u, err := db.Unfinished(ctx); err != nil || len(u) != 0 {
		t.Errorf("Unfinished = %d records (%v), want none", len(u), err)
	}
	for w := range workers {
		s, err := db.GetSchedule(ctx, fmt.Sprintf("s%d", w))
		if err != nil || s.FireCount != per {
			t.Errorf("schedule s%d = %+v, %v", w, s, err)
		}
	}
}

func TestDB_Commit_ContextDone(t *testing.T) {
	db := storetest.New(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := db.Commit(ctx, store.Writes{Executions: []store.Execution{execution(1, 1, "s", "h", store.StatusRunning, 0)}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Commit with cancelled ctx = %v, want context.Canceled", err)
	}
}

// TestDB_Close_CompletesPending queues writes without waiting and closes:
// every callback must report success and every record must be on disk.
func TestDB_Close_CompletesPending(t *testing.T) {
	path := tempPath(t)
	db := openT(t, path, store.Options{})
	const n = 500
	results := make(chan error, n)
	for i := range n {
		db.CommitAsync(store.Writes{Executions: []store.Execution{execution(i, 1, "s", "h", store.StatusSucceeded, 1)}},
			func(err error) { results <- err })
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	for range n {
		if err := <-results; err != nil {
			t.Fatalf("queued write: %v", err)
		}
	}
	if err := db.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	ctx := context.Background()
	if err := db.Commit(ctx, store.Writes{Schedules: []store.Schedule{{ID: "s"}}}); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Commit after Close = %v, want ErrClosed", err)
	}
	if _, err := db.GetSchedule(ctx, "s"); !errors.Is(err, store.ErrClosed) {
		t.Errorf("GetSchedule after Close = %v, want ErrClosed", err)
	}
	db = openT(t, path, store.Options{})
	defer db.Close()
	st, err := db.Stats(ctx)
	if err != nil || st.Total != n {
		t.Errorf("after reopen: Stats.Total = %d, %v; want %d", st.Total, err, n)
	}
}

// TestDB_CommitLazy: alone, a lazy write is committed after Linger; a
// closing DB commits it at once. (TestCommitLazy_SharesTransaction: with
// company.)
func TestDB_CommitLazy(t *testing.T) {
	ctx := context.Background()
	lazy := func(db *store.DB, i int) <-chan error {
		ch := make(chan error, 1)
		db.CommitLazy(store.Writes{Executions: []store.Execution{execution(i, 1, "s", "h", store.StatusSucceeded, 1)}},
			func(err error) { ch <- err })
		return ch
	}
	t.Run("alone, after linger", func(t *testing.T) {
		db := openT(t, tempPath(t), store.Options{Linger: time.Millisecond})
		defer db.Close()
		select {
		case err := <-lazy(db, 1):
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a lone lazy write was never committed")
		}
	})
	t.Run("at close", func(t *testing.T) {
		path := tempPath(t)
		db := openT(t, path, store.Options{Linger: time.Hour})
		done := lazy(db, 1)
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		db = openT(t, path, store.Options{})
		defer db.Close()
		if got, err := db.GetExecution(ctx, xid(1)); err != nil || len(got) != 1 {
			t.Fatalf("after reopen: GetExecution = %+v, %v", got, err)
		}
	})
}
