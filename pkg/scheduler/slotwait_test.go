package scheduler

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/wire"
)

// waiter is an attempt waiting in acquire on h for an instance labelled
// on; what it got arrives on got.
type waiter struct {
	got chan Conn
	err chan error
}

// queueWaiter starts an acquire on h and returns once it is the n-th in
// h's queue, so that waiters queue in the order they are started.
func queueWaiter(t *testing.T, ctx context.Context, h *handlerState, on []string, n int) waiter {
	t.Helper()
	w := waiter{got: make(chan Conn, 1), err: make(chan error, 1)}
	go func() {
		conn, err := h.acquire(ctx, on)
		if err != nil {
			w.err <- err
			return
		}
		w.got <- conn
	}()
	waitQueued(t, h, n)
	return w
}

func waitQueued(t *testing.T, h *handlerState, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		h.mu.Lock()
		l := h.queuedLocked()
		h.mu.Unlock()
		if l == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d attempts queued, want %d", l, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// A slot freed goes to the attempt that has waited longest, and to it
// alone, before any other can take it: with 20 attempts queued on a
// handler whose one slot is taken, each release hands the slot to the
// next in line and leaves none free (a release used to wake them all to
// race for it, and a new fire could take it first).
func TestSlotQueue_ReleaseHandsTheSlotToTheOldest(t *testing.T) {
	_, h := newPool(t, &dialer{}, wire.Registration{Instance: "a", Concurrency: 1})
	held := h.tryAcquire(nil)
	if held == nil {
		t.Fatal("no free slot at the start")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const n = 20
	ws := make([]waiter, n)
	for i := range ws {
		ws[i] = queueWaiter(t, ctx, h, nil, i+1)
	}
	for i := range 10 {
		h.release(held, time.Millisecond, false)
		select {
		case held = <-ws[i].got:
		case err := <-ws[i].err:
			t.Fatalf("waiter %d: %v", i, err)
		case <-time.After(5 * time.Second):
			t.Fatalf("release %d did not reach waiter %d, the oldest", i, i)
		}
		if c := h.tryAcquire(nil); c != nil {
			t.Fatal("a slot is free after it was handed over")
		}
		waitQueued(t, h, n-i-1)
	}
	cancel()
	for i := 10; i < n; i++ {
		if err := <-ws[i].err; err == nil {
			t.Fatalf("waiter %d: no error after its context ended", i)
		}
	}
	waitQueued(t, h, 0)
}

// A waiter the freed slot fits takes it even when older ones wait for
// another instance: the queue is in order, not one line.
func TestSlotQueue_ReleaseSkipsWaitersItDoesNotFit(t *testing.T) {
	_, h := newPool(t, &dialer{},
		wire.Registration{Instance: "a", Concurrency: 1, Labels: map[string]string{"zone": "a"}},
		wire.Registration{Instance: "b", Concurrency: 1, Labels: map[string]string{"zone": "b"}})
	a, b := h.tryAcquire([]string{"zone=a"}), h.tryAcquire([]string{"zone=b"})
	if a == nil || b == nil {
		t.Fatal("no free slots at the start")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	wa := queueWaiter(t, ctx, h, []string{"zone=a"}, 1)
	wb := queueWaiter(t, ctx, h, []string{"zone=b"}, 2)
	h.release(b, time.Millisecond, false)
	select {
	case c := <-wb.got:
		if got := instanceOf(c); got != "b" {
			t.Fatalf("the zone=b waiter got a slot of %s", got)
		}
	case <-wa.got:
		t.Fatal("b's slot went to the zone=a waiter")
	case <-time.After(5 * time.Second):
		t.Fatal("b's slot did not reach the zone=b waiter behind a zone=a one")
	}
	waitQueued(t, h, 1)
}

// A removed handler ends every attempt waiting for it, with the reason.
func TestSlotQueue_RemovedEndsEveryWaiter(t *testing.T) {
	r, h := newPool(t, &dialer{}, wire.Registration{Instance: "a", Concurrency: 1})
	if h.tryAcquire(nil) == nil {
		t.Fatal("no free slot at the start")
	}
	ws := make([]waiter, 3)
	for i := range ws {
		ws[i] = queueWaiter(t, context.Background(), h, nil, i+1)
	}
	if err := r.Remove(context.Background(), "p"); err != nil {
		t.Fatal(err)
	}
	for _, w := range ws {
		if err := <-w.err; !errors.Is(err, errHandlerRemoved) {
			t.Fatalf("a waiter of a removed handler: %v, want errHandlerRemoved", err)
		}
	}
}
