package scheduler_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/handler"
	"github.com/schedulezero/schedulezero/pkg/scheduler"
	"github.com/schedulezero/schedulezero/pkg/scheduler/schedtype"
	"github.com/schedulezero/schedulezero/pkg/store"
	"github.com/schedulezero/schedulezero/pkg/store/storetest"
	"github.com/schedulezero/schedulezero/pkg/wire"
	"github.com/schedulezero/schedulezero/pkg/wire/wiretest"
)

const (
	dingSecret  = "ding-secret-0123456789abcdef"
	otherSecret = "other-secret-0123456789abcdef"
)

func secrets(t *testing.T, byHandler map[string]string, require bool) *wire.HandlerSecrets {
	t.Helper()
	s, err := wire.NewHandlerSecrets(byHandler, require)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// runningHandler is a Go handler served until the test ends.
type runningHandler struct {
	ep     string
	exited chan struct{} // closed when Serve returned err
	err    error
}

// runHandler serves a Go handler that sends secret until the test ends.
func (b *bundle) runHandler(t *testing.T, name, secret string, calls *atomic.Int64) *runningHandler {
	t.Helper()
	h := &runningHandler{ep: wiretest.IPC(t, name+".sock"), exited: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		defer close(h.exited)
		h.err = handler.Serve(ctx, okMux(calls), handler.Options{
			Name: name, Endpoint: h.ep, Scheduler: b.zmq, Concurrency: 2, Secret: secret,
			PingInterval: 200 * time.Millisecond, ShutdownTimeout: time.Second, Logger: slog.New(slog.DiscardHandler),
		})
	}()
	t.Cleanup(func() {
		cancel()
		<-h.exited
		if h.err != nil && !errors.Is(h.err, context.Canceled) && !errors.Is(h.err, wire.ErrRefused) {
			t.Errorf("handler %s: %v", name, h.err)
		}
	})
	return h
}

// awaitRefused waits until the scheduler refused h: its Serve ends with
// the scheduler's reason, which must contain want.
func (h *runningHandler) awaitRefused(t *testing.T, what, want string) {
	t.Helper()
	select {
	case <-h.exited:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s was not refused within 10s", what)
	}
	if !errors.Is(h.err, wire.ErrRefused) || !strings.Contains(h.err.Error(), want) {
		t.Fatalf("%s: Serve = %v, want a refusal saying %q", what, h.err, want)
	}
}

func (b *bundle) handler(t *testing.T, id string) (schedtype.HandlerStatus, bool) {
	t.Helper()
	hs, err := b.engine.Handlers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hs {
		if h.ID == id {
			return h, true
		}
	}
	return schedtype.HandlerStatus{}, false
}

func (b *bundle) awaitOnline(t *testing.T, id, address string) {
	t.Helper()
	await(t, "handler "+id+" online at "+address, func() bool {
		h, ok := b.handler(t, id)
		return ok && h.Status == "online" && h.Address == address
	})
}

func run(t *testing.T, b *bundle, id string, timeout time.Duration) store.Execution {
	t.Helper()
	ex, err := b.engine.RunNow(context.Background(), schedtype.RunRequest{HandlerID: id, Method: "work", MaxAttempts: 1, Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	return ex
}

// A handler with the right secret registers and gets jobs; one with a
// wrong or no secret is refused and gets none, even when it tries to take
// over the registration of the right one with its own address.
func TestRegistry_HandlerSecrets(t *testing.T) {
	b := setup(t, scheduler.Options{HandlerSecrets: secrets(t, map[string]string{"ding": dingSecret, "locked": dingSecret}, false)})

	var good, evil, locked, plain atomic.Int64
	goodEP := b.runHandler(t, "ding", dingSecret, &good).ep
	b.awaitOnline(t, "ding", goodEP)
	if ex := run(t, b, "ding", 5*time.Second); ex.Status != store.StatusSucceeded || good.Load() != 1 {
		t.Fatalf("right secret: %s %q, %d calls", ex.Status, ex.Error, good.Load())
	}

	t.Run("hijack with no or a wrong secret", func(t *testing.T) {
		b.runHandler(t, "ding", "", &evil).awaitRefused(t, "an impostor without secret", "params.secret: is missing")
		b.runHandler(t, "ding", otherSecret, &evil).awaitRefused(t, "an impostor with a wrong secret", "params.secret: does not match")
		for range 3 {
			if ex := run(t, b, "ding", 5*time.Second); ex.Status != store.StatusSucceeded {
				t.Fatalf("after the hijack attempts: %s %q", ex.Status, ex.Error)
			}
		}
		if h, _ := b.handler(t, "ding"); h.Address != goodEP || h.Status != "online" {
			t.Fatalf("ding is now %+v, want online at %s", h, goodEP)
		}
		if good.Load() != 4 || evil.Load() != 0 {
			t.Fatalf("calls: right handler %d (want 4), impostors %d (want 0)", good.Load(), evil.Load())
		}
	})

	t.Run("wrong secret only: refused, gets no jobs", func(t *testing.T) {
		b.runHandler(t, "locked", otherSecret, &locked).awaitRefused(t, "locked", "params.secret: does not match")
		_, err := b.engine.RunNow(context.Background(), schedtype.RunRequest{HandlerID: "locked", Method: "work", Timeout: time.Second})
		if !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("job for a refused handler: %v, want ErrNotFound", err)
		}
		if _, listed := b.handler(t, "locked"); listed || locked.Load() != 0 {
			t.Fatalf("refused handler listed=%v, called %d times", listed, locked.Load())
		}
	})

	t.Run("handler without a secret works when not required", func(t *testing.T) {
		b.awaitOnline(t, "plain", b.runHandler(t, "plain", "", &plain).ep)
		if ex := run(t, b, "plain", 5*time.Second); ex.Status != store.StatusSucceeded || plain.Load() != 1 {
			t.Fatalf("plain: %s %q, %d calls", ex.Status, ex.Error, plain.Load())
		}
	})
}

func TestRegistry_RequireHandlerSecrets(t *testing.T) {
	b := setup(t, scheduler.Options{HandlerSecrets: secrets(t, map[string]string{"ding": dingSecret}, true)})
	var ding, plain atomic.Int64
	b.runHandler(t, "plain", "", &plain).awaitRefused(t, "plain", "--require-handler-secrets")
	b.awaitOnline(t, "ding", b.runHandler(t, "ding", dingSecret, &ding).ep)
	if _, err := b.engine.RunNow(context.Background(), schedtype.RunRequest{HandlerID: "plain", Method: "work"}); !errors.Is(err, store.ErrNotFound) || plain.Load() != 0 {
		t.Fatalf("plain: %v (want ErrNotFound), %d calls", err, plain.Load())
	}
	if ex := run(t, b, "ding", 5*time.Second); ex.Status != store.StatusSucceeded || ding.Load() != 1 {
		t.Fatalf("ding: %s %q, %d calls", ex.Status, ex.Error, ding.Load())
	}
}

// What the store holds was accepted under an earlier run's secrets: a
// handler that must authenticate is restored offline and is not dialed
// until it registers again with the secret; others are restored as before.
func TestRegistry_RestoredHandlerMustRegisterAgain(t *testing.T) {
	db := storetest.New(t)
	ctx := context.Background()
	old := wiretest.IPC(t, "old.sock")
	for _, h := range []store.Handler{
		{ID: "ding", Address: old, Status: "online", Protocol: 2, Concurrency: 2},
		{ID: "plain", Address: wiretest.IPC(t, "plain.sock"), Status: "online", Protocol: 2, Concurrency: 2},
	} {
		if err := db.PutHandler(ctx, h); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	var dialed []string
	b := setup(t, scheduler.Options{
		Store:          db,
		HandlerSecrets: secrets(t, map[string]string{"ding": dingSecret}, false),
		DialFunc: func(address string, protocol int, jobToken string) scheduler.Conn {
			mu.Lock()
			dialed = append(dialed, address)
			mu.Unlock()
			return scheduler.WireConn(wire.Dial(address, protocol, nil, wire.WithJobToken(jobToken)))
		},
	})
	if h, _ := b.handler(t, "ding"); h.Status != "offline" || h.Address != old {
		t.Fatalf("restored ding: %+v, want offline at its old address", h)
	}
	if h, _ := b.handler(t, "plain"); h.Status != "online" {
		t.Fatalf("restored plain: %+v, want online", h)
	}
	mu.Lock()
	if slices.Contains(dialed, old) {
		t.Fatalf("dialed the unauthenticated address %s: %q", old, dialed)
	}
	mu.Unlock()

	// An impostor cannot bring it back; its jobs wait and fail.
	var evil, calls atomic.Int64
	b.runHandler(t, "ding", otherSecret, &evil).awaitRefused(t, "an impostor of ding", "params.secret: does not match")
	if ex := run(t, b, "ding", 300*time.Millisecond); ex.Status != store.StatusFailed || !strings.Contains(ex.Error, "offline") || evil.Load() != 0 {
		t.Fatalf("job while ding is unauthenticated: %s %q, impostor called %d times", ex.Status, ex.Error, evil.Load())
	}

	ep := b.runHandler(t, "ding", dingSecret, &calls).ep
	b.awaitOnline(t, "ding", ep)
	if ex := run(t, b, "ding", 5*time.Second); ex.Status != store.StatusSucceeded || calls.Load() != 1 {
		t.Fatalf("after registering again: %s %q, %d calls", ex.Status, ex.Error, calls.Load())
	}
}
