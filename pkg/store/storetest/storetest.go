// Package storetest provides a real store.DB for tests in other packages: a
// bbolt file in the test's temporary directory, checked for consistency and
// closed when the test ends (like net/http/httptest and bbolt's btesting).
package storetest

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/schedulezero/schedulezero/pkg/store"
)

// New opens a DB in t.TempDir() with fsync off (a test process is not
// crashed on purpose unless it opens the store itself). At cleanup it runs
// DB.Check and Close and fails the test on either error.
func New(t testing.TB) *store.DB {
	t.Helper()
	return NewWithOptions(t, store.Options{NoSync: true})
}

// NewWithOptions is New with explicit options.
func NewWithOptions(t testing.TB, opts store.Options) *store.DB {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "schedulezero.db"), opts)
	if err != nil {
		t.Fatalf("storetest: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Check(context.Background()); err != nil {
			t.Errorf("storetest: %v", err)
		}
		if err := db.Close(); err != nil {
			t.Errorf("storetest: %v", err)
		}
	})
	return db
}
