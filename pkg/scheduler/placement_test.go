package scheduler

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/store"
	"github.com/schedulezero/schedulezero/pkg/wire"
)

// A slot's connection tells the attempt's record its instance and host.
func TestPlace_RecordsTheInstance(t *testing.T) {
	_, h := newPool(t, &dialer{},
		wire.Registration{Instance: "a", Host: "web-1", Concurrency: 1}, wire.Registration{Instance: "b", Concurrency: 1, Address: "tcp://127.0.0.2:7000"})
	want := map[string]string{"a": "web-1", "b": "127.0.0.2"} // b's host from its address
	for range 2 {
		c := h.tryAcquire(nil)
		var rec store.Execution
		h.place(&rec, c)
		if rec.Instance != instanceOf(c) || rec.Host != want[rec.Instance] {
			t.Errorf("placed on %q/%q, want %q/%q", rec.Instance, rec.Host, instanceOf(c), want[instanceOf(c)])
		}
	}
}

// Recovery waits for the instance that ran the attempt, even while another
// has free slots, and takes it once it is ready; without an id it takes
// any instance, as before pools.
func TestAcquireFor_WaitsForThatInstance(t *testing.T) {
	r, h := newPool(t, &dialer{}, wire.Registration{Instance: "b", Concurrency: 4})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if c, err := h.acquireFor(ctx, "a", nil); !errors.Is(err, wire.ErrUnavailable) {
		t.Fatalf("acquireFor(a) with only b registered: %q, %v; want unavailable at the deadline", instanceOf(c), err)
	}
	got := make(chan Conn, 1)
	go func() {
		c, err := h.acquireFor(context.Background(), "a", nil)
		if err != nil {
			t.Error(err)
		}
		got <- c
	}()
	if _, err := r.Register(context.Background(), wire.Registration{HandlerID: "p", Instance: "a", Address: "ipc:///a",
		Protocol: 3, Methods: []string{"m"}, Concurrency: 1}); err != nil {
		t.Fatal(err)
	}
	if c := <-got; instanceOf(c) != "a" {
		t.Fatalf("acquireFor(a) took %q", instanceOf(c))
	}
	c, err := h.acquireFor(context.Background(), "", nil)
	if err != nil || instanceOf(c) != "b" { // a is at its limit
		t.Fatalf("acquireFor without an id: %q, %v; want b", instanceOf(c), err)
	}
}

// An instance not heard from for forgetAfter, with nothing in flight,
// leaves the listing (and with it its metric series) at the next look,
// without waiting for a registration to prune it; a silent one within
// that time stays, shown unhealthy.
func TestSnapshot_DropsAnInstanceGoneForForgetAfter(t *testing.T) {
	r, h := newPool(t, &dialer{}, wire.Registration{Instance: "a", Concurrency: 1}, wire.Registration{Instance: "b", Concurrency: 1})
	h.mu.Lock()
	for _, in := range h.insts {
		switch in.id {
		case "a":
			in.seen = time.Now().Add(-forgetAfter - time.Minute)
		case "b":
			in.seen = time.Now().Add(-forgetAfter + time.Minute)
		}
	}
	h.mu.Unlock()
	views := r.snapshot()
	if len(views) != 1 || len(views[0].instances) != 1 || views[0].instances[0].id != "b" {
		t.Fatalf("snapshot %+v; want pool p with instance b alone", views)
	}
}

// After a restart, until the instance that ran an attempt registers, the
// instance restored from the store (its id unknown) is taken to provoke
// a registration; once another instance's process takes it over, the
// connection is known to be elsewhere.
func TestAcquireFor_ProbesTheRestoredInstance(t *testing.T) {
	ctx := context.Background()
	r, _ := newPool(t, &dialer{}, wire.Registration{Instance: "x"})
	if err := r.db.PutHandler(ctx, store.Handler{ID: "q", Address: "ipc:///b", Methods: []string{"m"}, Protocol: 5,
		Concurrency: 1, Status: handlerOnline}); err != nil {
		t.Fatal(err)
	}
	if err := r.load(ctx); err != nil {
		t.Fatal(err)
	}
	h, _ := r.get("q")
	c, err := h.acquireFor(ctx, "a", nil)
	if err != nil || owner(c) == nil || !owner(c).restored {
		t.Fatalf("acquireFor(a) with only the restored instance: %v, %v; want its slot", c, err)
	}
	if h.elsewhere(c, "a") {
		t.Fatal("the restored instance is taken for another before its process said who it is")
	}
	if _, err := r.Register(ctx, wire.Registration{HandlerID: "q", Instance: "b", Address: "ipc:///b", Protocol: 5,
		Methods: []string{"m"}, Concurrency: 1}); err != nil {
		t.Fatal(err)
	}
	if !h.elsewhere(c, "a") || h.elsewhere(c, "b") {
		t.Fatal("after b took the restored instance over, its connection is not known to be b's")
	}
}

// Recovery's wait bounds the instance's coming back, not its slots: the
// instance that ran the attempt, back and at its limit, is taken at once
// (the question runs no job; after a failover hundreds of questions
// would otherwise wait behind the new fires); an attempt that names no
// instance waits past the wait for a free slot of one that is back; one
// that never comes back is given up on after the wait.
func TestAcquireBack_TheInstanceBackIsAskedEvenAtItsLimit(t *testing.T) {
	_, h := newPool(t, &dialer{}, wire.Registration{Instance: "a", Concurrency: 1})
	const wait = 30 * time.Millisecond
	busy := h.tryAcquire(nil)
	if busy == nil {
		t.Fatal("no slot of a")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	c, err := h.acquireBack(ctx, "a", nil, wait)
	if err != nil || instanceOf(c) != "a" {
		t.Fatalf("acquireBack(a) with a at its limit: %q, %v; want a at once", instanceOf(c), err)
	}
	h.release(c, 0, false)

	got := make(chan error, 1)
	go func() {
		c, err := h.acquireBack(context.Background(), "", nil, wait)
		if err == nil && instanceOf(c) != "a" {
			err = errors.New("took " + instanceOf(c))
		}
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("acquireBack without an instance returned while a is back and busy: %v", err)
	case <-time.After(5 * wait):
	}
	h.release(busy, 0, false)
	if err := <-got; err != nil {
		t.Fatalf("acquireBack without an instance once a's slot is free: %v", err)
	}

	start := time.Now()
	if _, err := h.acquireBack(context.Background(), "gone", nil, wait); !errors.Is(err, wire.ErrUnavailable) {
		t.Fatalf("acquireBack of an instance that never registers: %v; want unavailable", err)
	}
	if d := time.Since(start); d > 20*wait {
		t.Fatalf("acquireBack of an instance that never registers took %v; want about %v", d, wait)
	}
}
