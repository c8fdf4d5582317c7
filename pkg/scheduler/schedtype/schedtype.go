// Package schedtype holds the engine's request and status types: what a
// caller asks the scheduler to do (create, edit, run a schedule) and what it
// reports of a handler. It is a leaf the engine owns, so that the REST layer
// and the HTTP client share the engine's vocabulary without importing the
// engine, and the engine imports neither of them.
package schedtype

import (
	"encoding/json"
	"time"

	"github.com/schedulezero/schedulezero/pkg/store"
)

// ScheduleRequest is a request, validated by the engine, to create a schedule.
type ScheduleRequest struct {
	ID          string          // empty: the backend picks <handler>_<method>_<epoch>
	HandlerID   string          // required
	Method      string          // required
	Params      json.RawMessage // a JSON object or empty
	Trigger     json.RawMessage // the trigger object as the user sent it
	Timezone    string          // IANA name; empty: the scheduler's zone
	MaxAttempts int             // 0: the scheduler's default
	Timeout     time.Duration   // 0: the scheduler's default
	Replace     bool            // replace an existing schedule with the same ID instead of 409
	Policy      store.Policy    // missed runs, overlap, jitter, retries; zero: defaults
	Source      string          // who manages it: "" the API, "file:<path>" a schedule file
}

// ScheduleUpdate edits a schedule; nil fields stay as they are.
type ScheduleUpdate struct {
	Method      *string
	Params      json.RawMessage // nil: unchanged
	Trigger     json.RawMessage // nil: unchanged; the next fire is recomputed from now
	Timezone    *string
	MaxAttempts *int
	Timeout     *time.Duration
	Policy      *store.Policy
	Source      *string // "" detaches a file-managed schedule
}

// BackfillResult says what a backfill queued.
type BackfillResult struct {
	ScheduleID  string      `json:"schedule_id"`
	Occurrences []time.Time `json:"occurrences"`
}

// RunRequest asks for one immediate call.
type RunRequest struct {
	HandlerID   string
	Method      string
	Params      json.RawMessage
	MaxAttempts int
	Timeout     time.Duration
}

// HandlerStatus is a registered handler with its live health.
type HandlerStatus struct {
	store.Handler
	InFlight  int     `json:"in_flight"`
	LatencyMS float64 `json:"latency_ms"` // EWMA of job round trips
	ErrorRate float64 `json:"error_rate"` // fraction of recent attempts that failed
	// Instances are the processes serving the handler (a pool has
	// several); the fields above sum (in flight) or average them.
	Instances []InstanceStatus `json:"instances,omitempty"`
}

// InstanceStatus is one process of a handler: where it is, its labels,
// and its live health. ID is empty for a handler that sent none (the
// original's); Healthy is false while it is routed around (no heartbeat
// within its health window, or unreachable).
type InstanceStatus struct {
	ID        string            `json:"id"`
	Host      string            `json:"host,omitempty"`
	Address   string            `json:"address"`
	Labels    map[string]string `json:"labels,omitempty"`
	Status    string            `json:"status"`
	Healthy   bool              `json:"healthy"`
	InFlight  int               `json:"in_flight"`
	Limit     int               `json:"limit"`
	LatencyMS float64           `json:"latency_ms"`
	ErrorRate float64           `json:"error_rate"`
	Errors    int64             `json:"errors"` // failed calls since it joined the pool
	LastSeen  time.Time         `json:"last_seen,omitzero"`
}

// States maps each handler of hs, removed ones too, to its status: what
// the API and the dashboard show beside a schedule.
func States(hs []HandlerStatus) map[string]string {
	m := make(map[string]string, len(hs))
	for _, h := range hs {
		m[h.ID] = h.Status
	}
	return m
}
