package store

import (
	"bytes"
	"encoding/json"
	"time"
)

// Schedule is a job that fires on a trigger. It is stored in the compact
// form of codec.go (its JSON tags are for the API and for records older
// than schema version 4): adding, removing or renaming a field changes
// that form, so it needs a new format byte or a migration (see doc.go).
type Schedule struct {
	ID        string          `json:"id"`
	HandlerID string          `json:"handler_id"`
	Method    string          `json:"job_method"`
	Params    json.RawMessage `json:"job_params,omitempty"`
	// Trigger is the normalized trigger specification (see package trigger);
	// the store does not interpret it.
	Trigger  json.RawMessage `json:"trigger"`
	Timezone string          `json:"timezone,omitempty"`

	Paused      bool          `json:"paused,omitempty"`
	PausedAt    time.Time     `json:"paused_at,omitzero"`
	MaxAttempts int           `json:"max_attempts,omitempty"`
	Timeout     time.Duration `json:"timeout,omitempty"`
	Policy      Policy        `json:"policy,omitzero"`

	// NextFire is the next occurrence the engine will fire; zero when the
	// trigger has no further occurrence (the schedule is Done).
	NextFire  time.Time `json:"next_fire_time,omitzero"`
	LastFire  time.Time `json:"last_fire_time,omitzero"`
	FireCount int64     `json:"fire_count,omitempty"`
	// MissedCount counts occurrences that did not run (see Policy).
	MissedCount int64 `json:"missed_count,omitempty"`
	Done        bool  `json:"done,omitempty"`

	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`

	// Source says who manages the schedule: empty for the API, or
	// "file:<path>" for a schedule file (package schedfile), whose
	// definition the API refuses to edit until it is detached.
	Source string `json:"source,omitempty"`
}

// Status is the state of one execution attempt.
type Status string

// Execution attempt states. Pending and Running are the only unfinished ones;
// a scheduler that starts and finds attempts in them after a crash marks them
// Interrupted.
const (
	StatusPending     Status = "pending"     // created, waiting for the handler (offline or at its limit)
	StatusRunning     Status = "running"     // sent to the handler
	StatusSucceeded   Status = "success"     // the original's word
	StatusFailed      Status = "error"       // the handler answered success=false, or could not be reached
	StatusTimedOut    Status = "timeout"     // the job's deadline passed without an answer
	StatusInterrupted Status = "interrupted" // the scheduler stopped (or crashed) while it was running
	StatusCancelled   Status = "cancelled"
	StatusMissed      Status = "missed" // an occurrence that did not run (issue: scheduling semantics)
)

// Finished reports whether s is a final state.
func (s Status) Finished() bool { return s != StatusPending && s != StatusRunning }

// Execution is one attempt of one fire of a schedule. A fire has one
// ExecutionID; each retry is a new record with the same ExecutionID and the
// next Attempt, so history keeps every attempt. The key is (ID, Attempt).
type Execution struct {
	ID          string `json:"execution_id"`
	Attempt     int    `json:"attempt_number"`
	MaxAttempts int    `json:"max_attempts"`
	ScheduleID  string `json:"job_id"` // the original called schedules jobs
	HandlerID   string `json:"handler_id"`
	Method      string `json:"method_name"`
	Status      Status `json:"status"`

	ScheduledAt time.Time       `json:"scheduled_at,omitzero"` // the occurrence this fire is for
	StartedAt   time.Time       `json:"started_at,omitzero"`
	CompletedAt time.Time       `json:"completed_at,omitzero"`
	DurationMS  float64         `json:"duration_ms"`
	Result      json.RawMessage `json:"result,omitempty"`
	Error       string          `json:"error,omitempty"`
	// Note says how the outcome was learnt when not from the attempt's own
	// reply: "recovered from handler" (its journal, after a restart).
	Note string `json:"note,omitempty"`
	// ParamsSummary is a bounded rendering of the job params.
	ParamsSummary string `json:"params_summary,omitempty"`
	// Instance and Host say which process of a handler pool the attempt
	// was sent to (its instance id, "" for a handler without one, and its
	// host), so that recovery asks that process about it after a restart.
	Instance string `json:"instance,omitempty"`
	Host     string `json:"host,omitempty"`
}

// Handler is a registered handler as the scheduler last knew it.
type Handler struct {
	ID      string   `json:"id"`
	Address string   `json:"address"`
	Methods []string `json:"methods"`
	Status  string   `json:"status"` // "online" or "offline"
	// Protocol is 0 for the original's REP handlers (one request at a time)
	// and >= 2 for runners that multiplex concurrent jobs.
	Protocol    int       `json:"protocol,omitempty"`
	Concurrency int       `json:"concurrency,omitempty"`
	FirstSeen   time.Time `json:"registered_at,omitzero"`
	LastSeen    time.Time `json:"last_seen,omitzero"`
}

// ExecutionFilter selects execution records; zero fields match everything.
// Results are newest first.
type ExecutionFilter struct {
	ScheduleID  string
	HandlerID   string
	ExecutionID string
	Status      Status
	Limit       int // 0 means no limit
	// Cursor continues ListExecutionsPage after an earlier page: its
	// ExecutionPage.Next. Empty: from the newest record.
	Cursor string
}

// Stats summarises execution history.
type Stats struct {
	Total         int64                   `json:"total"`
	ByStatus      map[Status]int64        `json:"by_status"`
	AvgDurationMS float64                 `json:"avg_duration_ms"`
	ByHandler     map[string]HandlerStats `json:"by_handler"`
}

// HandlerStats is the per-handler part of Stats.
type HandlerStats struct {
	Total         int64   `json:"total"`
	Succeeded     int64   `json:"success"`
	Failed        int64   `json:"error"` // every finished state other than success
	AvgDurationMS float64 `json:"avg_duration_ms"`
}

// Writes is one group of changes committed atomically (see DB.Commit).
type Writes struct {
	Schedules       []Schedule
	DeleteSchedules []string
	// ScheduleStates stores only the firing state of these schedules
	// (NextFire, LastFire, PausedAt, FireCount, MissedCount, Done); see
	// state.go. A schedule that no longer exists is skipped.
	ScheduleStates []Schedule
	Executions     []Execution
	// Notifications are stored (created or replaced) by ID; see
	// notification.go.
	Notifications       []Notification
	DeleteNotifications []string
}

// ResultWithoutOutput is an attempt's result object without its "stdout"
// and "stderr" (an exec handler's captured output), which the CLI and the
// dashboard show on their own; raw as it is when it has neither or is not
// an object.
func ResultWithoutOutput(raw json.RawMessage) json.RawMessage {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return raw
	}
	_, hasOut := m["stdout"]
	_, hasErr := m["stderr"]
	if !hasOut && !hasErr {
		return raw
	}
	delete(m, "stdout")
	delete(m, "stderr")
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if enc.Encode(m) != nil {
		return raw
	}
	return bytes.TrimSpace(b.Bytes())
}
