package scheduler

import (
	"context"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/scheduler/schedtype"
	"github.com/schedulezero/schedulezero/pkg/store"
)

// A fire admitted while the scheduler stops is recorded pending, to be
// dispatched after the restart, even when its handler has a free slot: not
// running, which the restart would mark interrupted although nothing was
// sent (seen in TestScheduler_GracefulRestartsRunEveryFireOnce: the loop's
// last fires, after Stop set stopping).
func TestStopping_FireIsRecordedPending(t *testing.T) {
	var d dialer
	s := startEngine(t, &d, nil)
	s.mu.Lock()
	s.stopping = true
	s.mu.Unlock()
	_, err := s.RunNow(context.Background(), schedtype.RunRequest{HandlerID: "h", Method: "m", Timeout: 5 * time.Second})
	if err == nil {
		t.Fatal("RunNow while stopping ran the job")
	}
	s.mu.Lock()
	gate := s.lastGate
	s.mu.Unlock()
	if err := gate.wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	recs, err := s.db.ListExecutions(context.Background(), store.ExecutionFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].Status != store.StatusPending || !recs[0].StartedAt.IsZero() {
		t.Fatalf("records %+v, want one pending, not started", recs)
	}
	if n := d.get(0).count(); n != 0 {
		t.Fatalf("%d calls while stopping", n)
	}
}
