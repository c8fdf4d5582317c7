package governor

import (
	"context"
	"time"
)

// UnitManager is what the governor needs from a backend, declared here by
// its consumer. Names are handler names; the backend maps them to its units
// (schedulezero-handler@NAME.service, or a child process). Implementations:
// *unitctl.Manager (systemd over D-Bus), *ProcessManager, and the fake in
// governortest; all pass governortest.Exercise.
type UnitManager interface {
	// Start starts the handler and returns once it was started (the
	// systemd job finished, the process was spawned). Starting a running
	// handler does nothing.
	Start(ctx context.Context, name string) error
	// Stop stops the handler: SIGTERM, then SIGKILL after timeout.
	// Stopping a stopped handler does nothing.
	Stop(ctx context.Context, name string, timeout time.Duration) error
	// SetEnabled makes the handler start at boot (or not).
	SetEnabled(ctx context.Context, name string, enabled bool) error
	// State reports the handler's current state. An unknown handler is
	// inactive with no PID.
	State(ctx context.Context, name string) (UnitState, error)
	// Watch delivers state changes until ctx is done, then closes the
	// channel. Delivery is best effort: a slow reader may miss changes, so
	// consumers re-read State.
	Watch(ctx context.Context) (<-chan UnitState, error)
}

// UnitState is one handler's unit as its backend reports it; the fields
// are systemd's unit properties.
type UnitState struct {
	Name        string    `json:"name"`
	Unit        string    `json:"unit"`
	ActiveState string    `json:"active_state"`
	SubState    string    `json:"sub_state"`
	MainPID     int       `json:"main_pid"`
	NRestarts   int       `json:"n_restarts"`
	MemoryBytes uint64    `json:"memory_bytes"`
	Since       time.Time `json:"since,omitzero"` // entered ActiveState
	Enabled     bool      `json:"enabled"`
	// Result is how the last run ended, in systemd's words ("success",
	// "exit-code", "signal", "core-dump", "watchdog", "start-limit-hit",
	// …); empty when unknown.
	Result string `json:"result,omitempty"`
	// Exit details the main process's end: "status 1", "signal SIGKILL";
	// empty when unknown.
	Exit string `json:"exit,omitempty"`
}

// SubStateAutoRestart is the SubState of a unit that the backend itself
// restarts after its RestartSec= (systemd's Restart=on-failure).
const SubStateAutoRestart = "auto-restart"

// Restarting reports whether the backend is about to restart the unit by
// itself.
func (s UnitState) Restarting() bool { return s.SubState == SubStateAutoRestart }

// describeExit says how the unit's last run ended: "signal (SIGKILL)".
func describeExit(st UnitState) string {
	switch {
	case st.Result == "" && st.Exit == "":
		return st.ActiveState
	case st.Exit == "":
		return st.Result
	case st.Result == "":
		return st.Exit
	}
	return st.Result + " (" + st.Exit + ")"
}

// Running reports whether the unit is active.
func (s UnitState) Running() bool { return s.ActiveState == StateActive }

// Down reports whether the unit is neither active nor on its way.
func (s UnitState) Down() bool {
	return s.ActiveState == StateInactive || s.ActiveState == StateFailed
}
