package schedulerd_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/schedulerd"
)

// Stop has one deadline for the whole shutdown, StopTimeout plus
// CloseTimeout, even when its caller gives none: a cleanup that hangs
// cannot keep the daemon from exiting.
func TestStop_OverallDeadline(t *testing.T) {
	dir := t.TempDir()
	d, err := schedulerd.New(context.Background(), schedulerd.Options{DBPath: filepath.Join(dir, "sz.db"),
		ZMQBind: "ipc://" + filepath.Join(dir, "zmq.sock"), HTTPListen: []string{"unix:" + filepath.Join(dir, "api.sock")},
		StopTimeout: 100 * time.Millisecond, CloseTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	schedulerd.OnStop(d, "hanging", func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	})
	start := time.Now()
	err = d.Stop(context.Background())
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("Stop took %v, want about 200ms", took)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Stop = %v, want the hanging cleanup's deadline", err)
	}
}
