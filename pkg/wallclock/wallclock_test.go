package wallclock_test

import (
	"context"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/schedulezero/schedulezero/pkg/wallclock"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Setting the host clock is not something a test may do, so this checks the
// watch starts, stays quiet while nobody sets the clock, and stops cleanly
// when its context ends; the systemd end-to-end harness is where a real
// clock change could be tried inside a disposable machine.
func TestWatch_StartsAndStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	done := make(chan error, 1)
	go func() { done <- wallclock.Watch(ctx, func() { calls++ }) }()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Watch: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Watch did not return after its context ended")
	}
	if calls != 0 {
		t.Fatalf("changed called %d times with no clock change", calls)
	}
}
