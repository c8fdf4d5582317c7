package scheduler

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/store/storetest"
	"github.com/schedulezero/schedulezero/pkg/wire"
)

// newPool returns a registry dialing d with handler "p" registered once
// per instance of regs (ids and addresses filled in), and its state.
func newPool(t *testing.T, d *dialer, regs ...wire.Registration) (*registry, *handlerState) {
	t.Helper()
	r := newRegistry(storetest.New(t), slog.New(slog.DiscardHandler), time.Now, d.dial)
	t.Cleanup(r.close)
	for _, reg := range regs {
		reg.HandlerID = "p"
		reg.Protocol, reg.Methods = 3, []string{"m"}
		if reg.Address == "" {
			reg.Address = "ipc:///" + reg.Instance
		}
		if _, err := r.Register(context.Background(), reg); err != nil {
			t.Fatal(err)
		}
	}
	h, ok := r.get("p")
	if !ok {
		t.Fatal("handler p not registered")
	}
	return r, h
}

// instanceOf names the instance a slot's connection belongs to.
func instanceOf(c Conn) string {
	if in := owner(c); in != nil {
		return in.id
	}
	return "<none>"
}

// Each attempt goes to the instance with the fewest calls in flight, no
// instance beyond its own limit, and ties take turns.
func TestPool_LeastInFlightWithinEachLimit(t *testing.T) {
	_, h := newPool(t, &dialer{},
		wire.Registration{Instance: "a", Concurrency: 1}, wire.Registration{Instance: "b", Concurrency: 3})
	var got []string
	var conns []Conn
	for range 4 {
		c := h.tryAcquire(nil)
		if c == nil {
			t.Fatalf("no slot after %v, want 4 of them (limits 1 and 3)", got)
		}
		conns = append(conns, c)
		got = append(got, instanceOf(c))
	}
	if n := strings.Count(strings.Join(got, ""), "a"); n != 1 {
		t.Fatalf("slots went to %v: instance a (limit 1) got %d", got, n)
	}
	if c := h.tryAcquire(nil); c != nil {
		t.Fatalf("a fifth slot on %s beyond both limits", instanceOf(c))
	}
	if why := h.waitReason(nil); !strings.HasPrefix(why, "waiting for a free slot") {
		t.Fatalf("reason %q", why)
	}
	for _, c := range conns {
		h.release(c, time.Millisecond, false)
	}
	// Idle, equal: turns.
	seen := map[string]int{}
	for range 6 {
		c := h.tryAcquire(nil)
		seen[instanceOf(c)]++
		h.release(c, time.Millisecond, false)
	}
	if seen["a"] != 3 || seen["b"] != 3 {
		t.Fatalf("idle picks %v, want 3 each", seen)
	}
}

// A constraint picks only matching instances; none matching, the reason
// and the deadline error name the constraint.
func TestPool_OnLabelConstraint(t *testing.T) {
	_, h := newPool(t, &dialer{},
		wire.Registration{Instance: "a", Concurrency: 4, Labels: map[string]string{"zone": "a"}},
		wire.Registration{Instance: "b", Concurrency: 4, Labels: map[string]string{"zone": "b", "gpu": "yes"}})
	for range 3 {
		c := h.tryAcquire([]string{"zone=b"})
		if got := instanceOf(c); got != "b" {
			t.Fatalf("zone=b went to %s", got)
		}
	}
	if c := h.tryAcquire([]string{"zone=a", "gpu=yes"}); c != nil {
		t.Fatalf("zone=a,gpu=yes matched %s", instanceOf(c))
	}
	why := h.waitReason([]string{"zone=c"})
	if !strings.Contains(why, "zone=c") || !strings.Contains(why, "none of its 2 online instances") {
		t.Fatalf("reason %q does not name the constraint", why)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	_, err := h.acquire(ctx, []string{"zone=c"})
	if !errors.Is(err, wire.ErrUnavailable) || !strings.Contains(err.Error(), "zone=c") {
		t.Fatalf("acquire: %v", err)
	}
}

// An instance silent past its health window (three heartbeats) gets no
// new work, and is back at its next ping; one whose request failed unsent
// hands the slot over to another instance and is skipped until it pings.
func TestPool_SilentAndUnreachableInstancesAreRoutedAround(t *testing.T) {
	r, h := newPool(t, &dialer{},
		wire.Registration{Instance: "a", Concurrency: 4, Heartbeat: time.Second},
		wire.Registration{Instance: "b", Concurrency: 4, Heartbeat: time.Second})
	h.mu.Lock()
	a := h.insts[0]
	a.seen = time.Now().Add(-4 * time.Second) // frozen: no ping for four heartbeats
	h.mu.Unlock()
	for range 4 {
		if got := instanceOf(h.tryAcquire(nil)); got != "b" {
			t.Fatalf("work went to %s, want b while a is silent", got)
		}
	}
	r.SeenInstance("p", "a")
	c := h.tryAcquire(nil)
	if got := instanceOf(c); got != "a" {
		t.Fatalf("after a's ping, work went to %s", got)
	}

	// The request on a could not be sent (a was killed): the slot moves
	// to b, which is full, so it stays; then b frees one.
	next, online := h.failover(c, nil)
	if next != c || !online {
		t.Fatalf("failover with every other slot taken: %s, online %v", instanceOf(next), online)
	}
	h.mu.Lock()
	bconn := h.insts[1].conn
	h.mu.Unlock()
	h.release(bconn, 0, false)
	next, online = h.failover(c, nil)
	if got := instanceOf(next); got != "b" || !online {
		t.Fatalf("failover went to %s, online %v", got, online)
	}
	h.mu.Lock()
	inA, inB, unreachable := h.insts[0].inFlight, h.insts[1].inFlight, h.insts[0].unreachable
	h.mu.Unlock()
	if inA != 0 || inB != 4 || !unreachable {
		t.Fatalf("after failover: a %d in flight (unreachable %v), b %d", inA, unreachable, inB)
	}
	if why := h.waitReason(nil); !strings.Contains(why, "free slot") {
		t.Fatalf("reason %q", why)
	}
	r.SeenInstance("p", "a")
	if got := instanceOf(h.tryAcquire(nil)); got != "a" {
		t.Fatalf("after a pinged again, work went to %s", got)
	}
}

// A registration without an instance id replaces the handler's one, as
// before pools; with an id it joins the pool, or replaces the instance of
// its id or address; the instance restored from the store is taken over
// by the first registration.
func TestPool_RegistrationReplacesOrJoins(t *testing.T) {
	ids := func(h *handlerState) string {
		h.mu.Lock()
		defer h.mu.Unlock()
		var out []string
		for _, in := range h.insts {
			out = append(out, in.id+"@"+in.address)
		}
		return strings.Join(out, " ")
	}
	r, h := newPool(t, &dialer{}, wire.Registration{Address: "ipc:///one"}, wire.Registration{Address: "ipc:///two"})
	if got := ids(h); got != "@ipc:///two" {
		t.Fatalf("two registrations without an id: %q", got)
	}
	reg := func(inst, addr string) {
		t.Helper()
		if _, err := r.Register(context.Background(), wire.Registration{HandlerID: "p", Instance: inst, Address: addr, Protocol: 3}); err != nil {
			t.Fatal(err)
		}
	}
	reg("x", "ipc:///two") // the process at that address now says its id
	reg("y", "ipc:///three")
	reg("x", "ipc:///four") // x restarted elsewhere
	if got := ids(h); got != "x@ipc:///four y@ipc:///three" {
		t.Fatalf("pool %q", got)
	}
	if err := r.ReportInstanceStatus(context.Background(), "p", "y", "offline"); err != nil {
		t.Fatal(err)
	}
	if st := h.snapshotStatus(); st != handlerOnline {
		t.Fatalf("status %q with x still online", st)
	}
	if err := r.ReportInstanceStatus(context.Background(), "p", "x", "stopping"); err != nil {
		t.Fatal(err)
	}
	if st := h.snapshotStatus(); st != "stopping" {
		t.Fatalf("status %q with every instance gone", st)
	}
	if err := r.ReportInstanceStatus(context.Background(), "p", "z", "offline"); !errors.Is(err, wire.ErrUnknownHandler) {
		t.Fatalf("report of an unknown instance: %v", err)
	}

	// Restored: the record's instance, then the first registration.
	r2 := newRegistry(r.db, slog.New(slog.DiscardHandler), time.Now, (&dialer{}).dial)
	t.Cleanup(r2.close)
	reg("x", "ipc:///four") // online again, in the store
	if err := r2.load(context.Background()); err != nil {
		t.Fatal(err)
	}
	h2, _ := r2.get("p")
	if got := ids(h2); got != "@ipc:///four" {
		t.Fatalf("restored %q", got)
	}
	if _, err := r2.Register(context.Background(), wire.Registration{HandlerID: "p", Instance: "x", Address: "ipc:///five", Protocol: 3}); err != nil {
		t.Fatal(err)
	}
	if got := ids(h2); got != "x@ipc:///five" {
		t.Fatalf("after the first registration %q", got)
	}
}

func (h *handlerState) snapshotStatus() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.rec.Status
}
