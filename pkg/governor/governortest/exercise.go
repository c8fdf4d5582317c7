package governortest

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/field"
	"github.com/schedulezero/schedulezero/pkg/governor"
)

// Harness is one UnitManager under test.
type Harness struct {
	Units governor.UnitManager
	// Prepare makes handler name startable (for real backends: writes
	// its config file with a free endpoint); nil when any name starts.
	Prepare func(t *testing.T, name string)
	// Timeout bounds each wait for a state; default 15s.
	Timeout time.Duration
}

// Crasher is implemented by managers whose handlers are not processes
// (the fake); the suite kills the MainPID of any other.
type Crasher interface {
	Crash(ctx context.Context, name string) error
}

// Exercise runs the conformance suite: every UnitManager must pass it.
// Handler names are unique per run, so a real system is left as found.
func Exercise(t *testing.T, newHarness func(t *testing.T) Harness) {
	t.Helper()
	setup := func(t *testing.T) (Harness, string, context.Context) {
		h := newHarness(t)
		if h.Timeout <= 0 {
			h.Timeout = 15 * time.Second
		}
		name := fmt.Sprintf("conf-%d", time.Now().UnixNano()%1_000_000_000)
		if h.Prepare != nil {
			h.Prepare(t, name)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 4*h.Timeout)
		t.Cleanup(cancel)
		t.Cleanup(func() {
			cctx, ccancel := context.WithTimeout(context.Background(), h.Timeout)
			defer ccancel()
			if err := h.Units.Stop(cctx, name, 5*time.Second); err != nil {
				t.Errorf("cleanup stop: %v", err)
			}
			if err := h.Units.SetEnabled(cctx, name, false); err != nil {
				t.Errorf("cleanup disable: %v", err)
			}
		})
		return h, name, ctx
	}

	t.Run("UnknownIsInactive", func(t *testing.T) {
		h, name, ctx := setup(t)
		st, err := h.Units.State(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if st.ActiveState != governor.StateInactive || st.MainPID != 0 || st.Enabled {
			t.Fatalf("state of a never-started handler = %+v, want inactive, no pid, disabled", st)
		}
		if st.Unit != governor.UnitName(name) {
			t.Errorf("unit = %q, want %q", st.Unit, governor.UnitName(name))
		}
	})

	t.Run("StartStop", func(t *testing.T) {
		h, name, ctx := setup(t)
		watch, err := h.Units.Watch(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for range 2 { // Start is idempotent
			if err := h.Units.Start(ctx, name); err != nil {
				t.Fatal(err)
			}
		}
		st := Await(t, ctx, h, name, h.Timeout, governor.UnitState.Running)
		if st.MainPID <= 0 || st.Since.IsZero() || st.SubState == "" {
			t.Fatalf("running state %+v lacks MainPID, Since or SubState", st)
		}
		pid := st.MainPID
		if err := h.Units.Start(ctx, name); err != nil {
			t.Fatal(err)
		}
		if again, _ := h.Units.State(ctx, name); again.MainPID != pid {
			t.Fatalf("Start of a running handler changed its pid %d -> %d", pid, again.MainPID)
		}
		awaitWatch(t, ctx, watch, name, governor.UnitState.Running)
		for range 2 { // Stop is idempotent
			if err := h.Units.Stop(ctx, name, 5*time.Second); err != nil {
				t.Fatal(err)
			}
		}
		st, err = h.Units.State(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if st.ActiveState != governor.StateInactive || st.MainPID != 0 {
			t.Fatalf("after Stop: %+v, want inactive with no pid", st)
		}
		awaitWatch(t, ctx, watch, name, func(s governor.UnitState) bool { return s.ActiveState == governor.StateInactive })
	})

	t.Run("Enable", func(t *testing.T) {
		h, name, ctx := setup(t)
		for _, want := range []bool{true, false, true} {
			if err := h.Units.SetEnabled(ctx, name, want); err != nil {
				t.Fatal(err)
			}
			st, err := h.Units.State(ctx, name)
			if err != nil {
				t.Fatal(err)
			}
			if st.Enabled != want {
				t.Fatalf("Enabled = %v after SetEnabled(%v)", st.Enabled, want)
			}
		}
	})

	t.Run("CrashIsDown", func(t *testing.T) {
		h, name, ctx := setup(t)
		if err := h.Units.Start(ctx, name); err != nil {
			t.Fatal(err)
		}
		st := Await(t, ctx, h, name, h.Timeout, governor.UnitState.Running)
		if c, ok := h.Units.(Crasher); ok {
			if err := c.Crash(ctx, name); err != nil {
				t.Fatal(err)
			}
		} else if err := syscall.Kill(st.MainPID, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		// systemd may restart it by Restart=; either way this pid is gone.
		Await(t, ctx, h, name, h.Timeout, func(s governor.UnitState) bool {
			return s.MainPID != st.MainPID
		})
	})

	t.Run("RefusesBadName", func(t *testing.T) {
		h, _, ctx := setup(t)
		for _, bad := range []string{"", "../etc", "a/b", "sshd.service x"} {
			var fe *field.Error
			if err := h.Units.Start(ctx, bad); !errors.As(err, &fe) || fe.Field != "name" {
				t.Errorf("Start(%q) = %v, want a *field.Error naming the name", bad, err)
			}
		}
	})
}

// Await polls the handler's state until cond holds or timeout passes.
func Await(t *testing.T, ctx context.Context, h Harness, name string, timeout time.Duration, cond func(governor.UnitState) bool) governor.UnitState {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		st, err := h.Units.State(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if cond(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("handler %q: condition not met within %v; last state %+v", name, timeout, st)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("handler %q: %v; last state %+v", name, ctx.Err(), st)
		case <-tick.C:
		}
	}
}

// awaitWatch reads the watch channel until a state of name meets cond.
func awaitWatch(t *testing.T, ctx context.Context, ch <-chan governor.UnitState, name string, cond func(governor.UnitState) bool) {
	t.Helper()
	wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	for {
		select {
		case st, ok := <-ch:
			if !ok {
				t.Fatal("watch channel closed early")
			}
			if st.Name == name && cond(st) {
				return
			}
		case <-wctx.Done():
			t.Fatalf("handler %q: no matching change on Watch: %v", name, wctx.Err())
		}
	}
}
