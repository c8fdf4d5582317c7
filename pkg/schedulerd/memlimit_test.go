package schedulerd_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"runtime/debug"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/schedulerd"
	"github.com/schedulezero/schedulezero/pkg/store"
)

// The daemon sizes the runtime's memory limit by its schedules once they
// are loaded, and puts back the limit it found when it stops.
func TestDaemon_MemoryBudget_SetsTheLimitAndRestoresIt(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "sz.db")
	first := time.Now().Add(time.Hour).UTC()
	var scheds []store.Schedule
	for i := range 3 {
		scheds = append(scheds, store.Schedule{ID: fmt.Sprintf("s%d", i), HandlerID: "dingaling", Method: "quick_aling",
			Trigger:  json.RawMessage(`{"type":"interval","seconds":60,"start_time":"` + first.Format(time.RFC3339Nano) + `"}`),
			NextFire: first, CreatedAt: first, UpdatedAt: first})
	}
	seed(t, dbPath, scheds...)

	before := debug.SetMemoryLimit(-1)
	const budget = 512 << 20
	d := daemon(t, schedulerd.Options{DBPath: dbPath, MemoryBudget: budget, MinInterval: -1, Location: time.UTC})
	if got, want := debug.SetMemoryLimit(-1), int64(budget+3*schedulerd.MemoryPerSchedule); got != want {
		t.Errorf("memory limit after start = %d, want %d (budget and 3 schedules)", got, want)
	}
	if err := d.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Errorf("memory limit after stop = %d, want %d (the one before start)", got, before)
	}
}

// Without a budget the runtime's limit (GOMEMLIMIT's) is left alone.
func TestDaemon_NoMemoryBudget_LeavesTheLimit(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	daemon(t, schedulerd.Options{MinInterval: -1})
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Errorf("memory limit = %d, want %d: no budget, no change", got, before)
	}
}
