package scheduler_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/scheduler"
	"github.com/schedulezero/schedulezero/pkg/store"
	"github.com/schedulezero/schedulezero/pkg/store/storetest"
)

// PolicyPage pages through the schedules by id and gives only the
// non-zero policies, so that the notifier learns every schedule's targets
// without a copy of each record.
func TestScheduler_PolicyPage(t *testing.T) {
	ctx := context.Background()
	db := storetest.NewWithOptions(t, store.Options{NoSync: true})
	now := time.Now()
	var w store.Writes
	for i := range 25 {
		s := store.Schedule{ID: fmt.Sprintf("s%02d", i), HandlerID: "h", Method: "work",
			Trigger:  json.RawMessage(`{"type":"interval","seconds":3600}`),
			NextFire: now.Add(time.Hour), CreatedAt: now, UpdatedAt: now}
		if i%10 == 3 {
			s.Policy.OnFailure = "handler:mail"
		}
		w.Schedules = append(w.Schedules, s)
	}
	if err := db.Commit(ctx, w); err != nil {
		t.Fatal(err)
	}
	eng, err := scheduler.New(ctx, scheduler.Options{Store: db})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]store.Policy{}
	after, pages := "", 0
	for {
		pols, next, err := eng.PolicyPage(ctx, after, 10)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for id, p := range pols {
			got[id] = p
		}
		if next == "" {
			break
		}
		after = next
	}
	if pages != 3 || len(got) != 3 || got["s03"].OnFailure != "handler:mail" || got["s13"].OnFailure == "" || got["s23"].OnFailure == "" {
		t.Errorf("%d pages gave %v; want 3 pages and the policies of s03, s13, s23", pages, got)
	}
}
