package storetest_test

import (
	"context"
	"errors"
	"testing"

	"go.uber.org/goleak"

	"github.com/schedulezero/schedulezero/pkg/store"
	"github.com/schedulezero/schedulezero/pkg/store/storetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestNew(t *testing.T) {
	db := storetest.New(t)
	ctx := context.Background()
	if err := db.Commit(ctx, store.Writes{Schedules: []store.Schedule{{ID: "s1"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.GetSchedule(ctx, "s1"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.GetSchedule(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetSchedule(nope) = %v, want ErrNotFound", err)
	}
}
