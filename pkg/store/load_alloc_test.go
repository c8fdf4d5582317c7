package store_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/store"
)

// Walking the schedules without copying allocates per walk, not per
// schedule: at start-up every allocation a schedule is garbage times the
// table (3.5 MB at 10,000 schedules when each record was its own).
func TestDB_EachScheduleView_AllocatesPerWalkNotPerSchedule(t *testing.T) {
	db, err := store.Open(filepath.Join(t.TempDir(), "sz.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	at := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	const n = 500
	var recs []store.Schedule
	for i := range n {
		recs = append(recs, store.Schedule{ID: fmt.Sprintf("s%04d", i), HandlerID: "h", Method: "m",
			Trigger: []byte(`{"type":"interval","seconds":60}`), Params: []byte(`{"n":1}`), NextFire: at, CreatedAt: at, UpdatedAt: at})
	}
	if err := db.Commit(ctx, store.Writes{Schedules: recs}); err != nil {
		t.Fatal(err)
	}
	seen := 0
	allocs := testing.AllocsPerRun(3, func() {
		seen = 0
		if err := db.EachScheduleView(ctx, func(store.Schedule) error { seen++; return nil }); err != nil {
			t.Fatal(err)
		}
	})
	if seen != n {
		t.Fatalf("walked %d schedules, want %d", seen, n)
	}
	if allocs >= n/10 {
		t.Errorf("a walk of %d schedules made %.0f allocations, want fewer than %d: none a schedule", n, allocs, n/10)
	}
}
