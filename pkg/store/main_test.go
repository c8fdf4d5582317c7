package store_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/schedulezero/schedulezero/pkg/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// xid returns a 26-character, time-sortable execution ID for n.
func xid(n int) string { return fmt.Sprintf("%026d", n) }

// execution returns attempt a of execution n of schedule sid on handler hid.
func execution(n, a int, sid, hid string, st store.Status, dur float64) store.Execution {
	e := store.Execution{
		ID: xid(n), Attempt: a, MaxAttempts: 3,
		ScheduleID: sid, HandlerID: hid, Method: "run", Status: st,
		ScheduledAt: t0.Add(time.Duration(n) * time.Minute),
		StartedAt:   t0.Add(time.Duration(n)*time.Minute + time.Duration(a)*time.Second),
		DurationMS:  dur,
	}
	if st.Finished() {
		e.CompletedAt = e.StartedAt.Add(time.Duration(dur) * time.Millisecond)
	}
	return e
}

func openT(t testing.TB, path string, opts store.Options) *store.DB {
	t.Helper()
	db, err := store.Open(path, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return db
}

func tempPath(t testing.TB) string { return filepath.Join(t.TempDir(), "sz.db") }

func commit(t testing.TB, db *store.DB, w store.Writes) {
	t.Helper()
	if err := db.Commit(context.Background(), w); err != nil {
		t.Fatalf("Commit: %v", err)
	}
}

func ids(es []store.Execution) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = fmt.Sprintf("%s/%d", e.ID[len(e.ID)-3:], e.Attempt)
	}
	return out
}

// TestHelperProcess is not a test: the process tests re-execute the test
// binary with -test.run=^TestHelperProcess$ and SZ_STORE_HELPER set, and
// this function then plays the second process.
func TestHelperProcess(t *testing.T) {
	mode := os.Getenv("SZ_STORE_HELPER")
	if mode == "" {
		return
	}
	os.Exit(helperMain(mode, os.Getenv("SZ_STORE_PATH")))
}
