// Package wiretest provides helpers for tests that speak the ZeroMQ
// protocol over real sockets: an in-memory wire.Registry and endpoints in a
// test's temporary directory, named like net/http/httptest.
package wiretest

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/schedulezero/schedulezero/pkg/wire"
)

// Registry is an in-memory wire.Registry that records what it is told.
type Registry struct {
	mu       sync.Mutex
	handlers map[string]wire.Registration
	status   map[string]string
	seen     map[string]int
	regs     int
	changed  chan struct{}
}

// NewRegistry returns an empty Registry.
func NewRegistry() *Registry {
	return &Registry{handlers: map[string]wire.Registration{}, status: map[string]string{},
		seen: map[string]int{}, changed: make(chan struct{})}
}

func (r *Registry) notify() {
	close(r.changed)
	r.changed = make(chan struct{})
}

// Register implements wire.Registry.
func (r *Registry) Register(_ context.Context, reg wire.Registration) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, again := r.handlers[reg.HandlerID]
	r.handlers[reg.HandlerID] = reg
	r.status[reg.HandlerID] = "registered"
	r.regs++
	r.notify()
	return again, nil
}

// ReportStatus implements wire.Registry.
func (r *Registry) ReportStatus(_ context.Context, id, status string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.handlers[id]; !ok {
		return fmt.Errorf("handler %q: %w", id, wire.ErrUnknownHandler)
	}
	r.status[id] = status
	r.notify()
	return nil
}

// Seen implements wire.Registry.
func (r *Registry) Seen(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen[id]++
	r.notify()
}

var _ wire.InstanceRegistry = (*Registry)(nil)

// SeenInstance implements wire.InstanceRegistry: a ping of handler id's
// instance counts for "id/instance".
func (r *Registry) SeenInstance(id, instance string) { r.Seen(id + "/" + instance) }

// ReportInstanceStatus implements wire.InstanceRegistry: the status of
// handler id is the last one any instance reported, kept also under
// "id/instance".
func (r *Registry) ReportInstanceStatus(ctx context.Context, id, instance, status string) error {
	if err := r.ReportStatus(ctx, id, status); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.status[id+"/"+instance] = status
	return nil
}

// Status returns the last status reported for key: a handler id, or
// "id/instance".
func (r *Registry) Status(key string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.status[key]
}

// Handler returns what handler id registered.
func (r *Registry) Handler(id string) (wire.Registration, string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	h, ok := r.handlers[id]
	return h, r.status[id], ok
}

// Registrations returns how many register requests were accepted.
func (r *Registry) Registrations() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.regs
}

// SeenCount returns how many pings carried handler id.
func (r *Registry) SeenCount(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seen[id]
}

// Await blocks until cond holds or ctx ends, re-checking after every
// change to the registry.
func (r *Registry) Await(ctx context.Context, cond func(*Registry) bool) error {
	for {
		r.mu.Lock()
		ch := r.changed
		r.mu.Unlock()
		if cond(r) {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("registry condition not met: %w", ctx.Err())
		}
	}
}

// IPC returns an ipc:// endpoint named name in t's temporary directory.
func IPC(t testing.TB, name string) string {
	t.Helper()
	return "ipc://" + filepath.Join(t.TempDir(), name)
}

// Serve starts a wire.Server for reg on a fresh ipc endpoint and stops it
// when the test ends.
func Serve(t testing.TB, reg wire.Registry) *wire.Server {
	t.Helper()
	return ServeOn(t, reg, IPC(t, "sched.sock"))
}

// ServeOn is Serve on endpoint (tcp://127.0.0.1:0 for a fresh port), with
// opts.
func ServeOn(t testing.TB, reg wire.Registry, endpoint string, opts ...wire.Option) *wire.Server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := wire.Listen(ctx, endpoint, reg, nil, opts...)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return srv
}
