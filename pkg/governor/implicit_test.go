package governor_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/governor"
	"github.com/schedulezero/schedulezero/pkg/governor/governortest"
)

// A NAME.json written by hand (the packaged dingaling.json) names no
// endpoint: the governor pings the one the handler binds by default, never
// an empty address.
func TestSupervisor_HandWrittenConfigPingsImplicitEndpoint(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "packaged.json"), []byte(`{"kind":"dingaling","concurrency":4}`), 0o644); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	pinged := map[string]int{}
	sup, ctx := runSupervisor(t, governor.Options{Units: governortest.NewFake(), Backend: "fake", ConfigDir: dir,
		CheckInterval: 10 * time.Millisecond, Logger: newLogger(&logBuf{}),
		ImplicitEndpoint: func(name string) string { return "ipc://implicit-" + name },
		PingFunc: func(_ context.Context, _, endpoint string) error {
			mu.Lock()
			pinged[endpoint]++
			mu.Unlock()
			return nil
		}})
	hi := awaitInfo(t, ctx, sup, "packaged", "healthy", func(h governor.HandlerInfo) bool { return h.Healthy })
	if hi.Endpoint != "ipc://implicit-packaged" {
		t.Fatalf("endpoint %q, want the implicit one", hi.Endpoint)
	}
	mu.Lock()
	defer mu.Unlock()
	if pinged["ipc://implicit-packaged"] == 0 || pinged[""] != 0 {
		t.Fatalf("pings by endpoint: %v", pinged)
	}
}
