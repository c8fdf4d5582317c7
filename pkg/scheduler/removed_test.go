package scheduler_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/scheduler"
	"github.com/schedulezero/schedulezero/pkg/scheduler/schedtype"
	"github.com/schedulezero/schedulezero/pkg/store"
)

// A removed handler stays removed after a restart: the store keeps its
// state, so its schedules' fires are still recorded missed with the reason
// instead of waiting for a handler that will not come back.
func TestRemoveHandler_SurvivesRestart(t *testing.T) {
	b := setup(t, scheduler.Options{})
	var calls atomic.Int64
	b.serveHandler(t, "gone", 1, okMux(&calls))
	ctx := context.Background()
	start := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	if _, err := b.engine.AddSchedule(ctx, schedtype.ScheduleRequest{ID: "orphan", HandlerID: "gone", Method: "work",
		Trigger: json.RawMessage(`{"type":"interval","hours":1,"start_time":"` + start + `"}`)}); err != nil {
		t.Fatal(err)
	}
	if err := b.engine.RemoveHandler(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := b.engine.Stop(sctx); err != nil {
		t.Fatal(err)
	}

	again := setup(t, scheduler.Options{Store: b.db})
	hs, _ := again.engine.Handlers(ctx)
	if len(hs) != 1 || hs[0].Status != "removed" {
		t.Fatalf("handlers after the restart: %+v, want gone as removed", hs)
	}
	rec, err := again.engine.TriggerSchedule(ctx, "orphan", false)
	if err != nil || rec.Status != store.StatusMissed || !strings.Contains(rec.Error, `handler "gone" was removed`) {
		t.Fatalf("run after the restart = %+v, %v; want missed, handler removed", rec, err)
	}
	if calls.Load() != 0 {
		t.Fatal("a removed handler was called")
	}
}
