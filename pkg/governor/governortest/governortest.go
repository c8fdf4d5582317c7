// Package governortest holds the conformance suite every governor
// UnitManager must pass, and an in-memory fake that passes it, named like
// net/http/httptest. The fake exists so Supervisor tests run without
// systemd; the suite keeps it honest against the real backends (the
// process manager in `make test`, systemd over D-Bus in `make e2e`).
package governortest

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/schedulezero/schedulezero/pkg/field"
	"github.com/schedulezero/schedulezero/pkg/governor"
	"github.com/schedulezero/schedulezero/pkg/handlername"
)

// Fake is an in-memory UnitManager. Its PIDs are not processes; Crash
// stands in for a handler dying.
type Fake struct {
	mu      sync.Mutex
	next    int
	states  map[string]governor.UnitState
	enabled map[string]bool
	subs    map[chan governor.UnitState]struct{}
	starts  map[string]int
}

var _ governor.UnitManager = (*Fake)(nil)

// NewFake returns a Fake with every handler inactive.
func NewFake() *Fake {
	return &Fake{next: 1 << 22, states: map[string]governor.UnitState{}, enabled: map[string]bool{},
		subs: map[chan governor.UnitState]struct{}{}, starts: map[string]int{}}
}

func (f *Fake) setLocked(st governor.UnitState) {
	st.Enabled = f.enabled[st.Name]
	f.states[st.Name] = st
	for ch := range f.subs {
		select {
		case ch <- st:
		default:
		}
	}
}

// Start implements governor.UnitManager.
func (f *Fake) Start(ctx context.Context, name string) error {
	if err := field.Prefix("name", handlername.Check(name)); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.states[name].Running() {
		return nil
	}
	f.next++
	f.starts[name]++
	// A start by a client resets NRestarts, as systemd's does.
	f.setLocked(governor.UnitState{Name: name, Unit: governor.UnitName(name), ActiveState: governor.StateActive,
		SubState: "running", MainPID: f.next, Since: time.Now()})
	return nil
}

// Stop implements governor.UnitManager.
func (f *Fake) Stop(ctx context.Context, name string, _ time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	st, ok := f.states[name]
	if !ok || st.Down() {
		return nil
	}
	f.setLocked(governor.UnitState{Name: name, Unit: governor.UnitName(name), ActiveState: governor.StateInactive,
		SubState: "dead", Since: time.Now(), Result: "success"})
	return nil
}

// SetEnabled implements governor.UnitManager.
func (f *Fake) SetEnabled(_ context.Context, name string, enabled bool) error {
	if err := field.Prefix("name", handlername.Check(name)); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.enabled[name] = enabled
	if st, ok := f.states[name]; ok {
		f.setLocked(st)
	}
	return nil
}

// State implements governor.UnitManager.
func (f *Fake) State(_ context.Context, name string) (governor.UnitState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, ok := f.states[name]
	if !ok {
		st = governor.UnitState{Name: name, Unit: governor.UnitName(name), ActiveState: governor.StateInactive, SubState: "dead"}
	}
	st.Enabled = f.enabled[name]
	return st, nil
}

// Watch implements governor.UnitManager.
func (f *Fake) Watch(ctx context.Context) (<-chan governor.UnitState, error) {
	ch := make(chan governor.UnitState, 64)
	f.mu.Lock()
	f.subs[ch] = struct{}{}
	f.mu.Unlock()
	go func() {
		<-ctx.Done()
		f.mu.Lock()
		delete(f.subs, ch)
		close(ch)
		f.mu.Unlock()
	}()
	return ch, nil
}

// Crash makes a running handler fail as if it had been killed.
func (f *Fake) Crash(_ context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, ok := f.states[name]
	if !ok || !st.Running() {
		return fmt.Errorf("handler %q: not running", name)
	}
	f.setLocked(governor.UnitState{Name: name, Unit: governor.UnitName(name), ActiveState: governor.StateFailed,
		SubState: "failed", Since: time.Now(), Result: "signal", Exit: "signal SIGKILL"})
	return nil
}

// CrashRestarting makes a running handler die as under systemd's
// Restart=on-failure: the unit waits in activating/auto-restart until
// Restarted. A Stop meanwhile cancels the restart, as systemd's does.
func (f *Fake) CrashRestarting(_ context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, ok := f.states[name]
	if !ok || !st.Running() {
		return fmt.Errorf("handler %q: not running", name)
	}
	st.ActiveState, st.SubState, st.MainPID = governor.StateActivating, governor.SubStateAutoRestart, 0
	st.Result, st.Exit, st.Since = "signal", "signal SIGKILL", time.Now()
	f.setLocked(st)
	return nil
}

// Restarted ends a pending auto-restart as systemd does after
// RestartSec=: a new process, NRestarts one up. It reports false when no
// restart was pending (the governor stopped the unit meanwhile).
func (f *Fake) Restarted(name string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, ok := f.states[name]
	if !ok || !st.Restarting() {
		return false
	}
	f.next++
	f.starts[name]++
	st.ActiveState, st.SubState, st.MainPID, st.Since = governor.StateActive, "running", f.next, time.Now()
	st.NRestarts++
	f.setLocked(st)
	return true
}

// Starts returns how often handler name was started.
func (f *Fake) Starts(name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.starts[name]
}
