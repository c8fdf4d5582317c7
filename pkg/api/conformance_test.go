package api_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/api"
	"github.com/schedulezero/schedulezero/pkg/api/apitest"
	"github.com/schedulezero/schedulezero/pkg/handler"
	"github.com/schedulezero/schedulezero/pkg/scheduler"
	"github.com/schedulezero/schedulezero/pkg/scheduler/schedtype"
	"github.com/schedulezero/schedulezero/pkg/store/storetest"
	"github.com/schedulezero/schedulezero/pkg/wire/wiretest"
)

// TestEngine_Conformance runs the Backend contract suite on the real engine:
// a bbolt file, the ZeroMQ registration server and real Go handlers over
// ipc:// sockets in the test's temporary directory.
func TestEngine_Conformance(t *testing.T) {
	apitest.Exercise(t, newEngine)
}

// newEngine starts an engine over a fresh store and registration server,
// stopped when the test ends.
func newEngine(t *testing.T) (api.Backend, apitest.AddHandlerFunc) {
	{
		ctx := context.Background()
		eng, err := scheduler.New(ctx, scheduler.Options{
			Store: storetest.New(t), Logger: slog.New(slog.DiscardHandler),
			Location: time.UTC, BackoffBase: 10 * time.Millisecond,
		})
		if err != nil {
			t.Fatal(err)
		}
		srv := wiretest.Serve(t, eng.Registry())
		if err := eng.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			if err := eng.Stop(sctx); err != nil {
				t.Errorf("engine stop: %v", err)
			}
		})
		return eng, func(t *testing.T, name string, methods ...string) {
			serveHandler(t, eng, srv.Addr(), name, methods)
		}
	}
}

// serveHandler runs a Go handler whose methods all succeed until the test
// ends, and returns when the engine lists it online.
func serveHandler(t *testing.T, eng *scheduler.Scheduler, zmq, name string, methods []string) {
	t.Helper()
	mux := handler.NewMux()
	for _, m := range methods {
		mux.HandleFunc(m, func(context.Context, *handler.Job) (any, error) {
			return map[string]any{"success": true}, nil
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- handler.Serve(ctx, mux, handler.Options{
			Name: name, Endpoint: wiretest.IPC(t, name), Scheduler: zmq, Concurrency: 4,
			Logger: slog.New(slog.DiscardHandler),
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("handler %s: %v", name, err)
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		hs, _ := eng.Handlers(context.Background())
		if slices.ContainsFunc(hs, func(h schedtype.HandlerStatus) bool { return h.ID == name && h.Status == "online" }) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("handler %s not online after 10s", name)
		}
		time.Sleep(5 * time.Millisecond) // polling a condition with a deadline
	}
}
