package scheduler_test

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/scheduler"
	"github.com/schedulezero/schedulezero/pkg/scheduler/schedtype"
	"github.com/schedulezero/schedulezero/pkg/store"
	"github.com/schedulezero/schedulezero/pkg/store/storetest"
)

func TestScheduler_HealthAndSummary(t *testing.T) {
	b := setup(t, scheduler.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := b.engine.Health(ctx); err != nil {
		t.Fatalf("healthy engine: %v", err)
	}
	if s := b.engine.Summary(); s == "" {
		t.Fatal("empty summary")
	}
	b.engine.Stall()
	ctx2, cancel2 := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel2()
	if err := b.engine.Health(ctx2); err == nil {
		t.Fatal("a stalled engine reports healthy")
	}
}

// Stop does not spend its budget on an attempt still waiting for its
// handler: the attempt stays pending and runs after the restart.
func TestScheduler_StopLeavesWaitingAttemptPending(t *testing.T) {
	db := storetest.New(t)
	b := setup(t, scheduler.Options{Store: db})
	var calls atomic.Int64
	b.serveHandler(t, "absent", 1, okMux(&calls))
	if err := b.engine.Registry().ReportStatus(context.Background(), "absent", "offline"); err != nil {
		t.Fatal(err)
	}
	_, err := b.engine.AddSchedule(context.Background(), schedtype.ScheduleRequest{
		ID: "waits", HandlerID: "absent", Method: "work", Timeout: time.Hour,
		Trigger: json.RawMessage(`{"type":"date","run_date":"` + time.Now().UTC().Format(time.RFC3339) + `"}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	await(t, "a pending attempt", func() bool {
		return countStatus(b.executions(t, store.ExecutionFilter{ScheduleID: "waits"}), store.StatusPending) == 1
	})
	stopped := make(chan struct{})
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = b.engine.Stop(ctx)
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("Stop waited for an attempt that was never sent")
	}
	u, err := db.Unfinished(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(u) != 1 || u[0].Status != store.StatusPending || u[0].Attempt != 1 {
		t.Fatalf("unfinished after stop: %+v; want the one attempt, pending", u)
	}
}
