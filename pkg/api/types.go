package api

import (
	"encoding/json"
	"math"
	"time"

	"github.com/schedulezero/schedulezero/pkg/scheduler/schedtype"
	"github.com/schedulezero/schedulezero/pkg/store"
)

// Schedule is the /api/v1 rendering of a store.Schedule: the trigger is an
// object and the timeout a duration string ("30s").
type Schedule struct {
	ID          string          `json:"id"`
	HandlerID   string          `json:"handler_id"`
	Method      string          `json:"job_method"`
	Params      json.RawMessage `json:"job_params,omitempty"`
	Trigger     json.RawMessage `json:"trigger"`
	Timezone    string          `json:"timezone,omitempty"`
	Paused      bool            `json:"paused"`
	PausedAt    time.Time       `json:"paused_at,omitzero"`
	MaxAttempts int             `json:"max_attempts,omitempty"`
	Timeout     string          `json:"timeout,omitempty"`
	NextFire    time.Time       `json:"next_fire_time,omitzero"`
	LastFire    time.Time       `json:"last_fire_time,omitzero"`
	FireCount   int64           `json:"fire_count"`
	MissedCount int64           `json:"missed_count"`
	Done        bool            `json:"done"`
	// HandlerState is the handler's state as the scheduler knows it
	// ("online", "offline", "stopping", "removed"), or "unknown" when it
	// does not know the handler; empty where it was not looked up.
	HandlerState string    `json:"handler_state,omitempty"`
	Policy       *Policy   `json:"policy,omitempty"`
	CreatedAt    time.Time `json:"created_at,omitzero"`
	UpdatedAt    time.Time `json:"updated_at,omitzero"`
	// Source is "file:<path>" for a schedule a file manages, which the
	// API edits only once detached; empty for the API's own.
	Source string `json:"source,omitempty"`
}

// ScheduleFromStore renders s for /api/v1.
func ScheduleFromStore(s store.Schedule) Schedule {
	v := Schedule{
		ID: s.ID, HandlerID: s.HandlerID, Method: s.Method, Params: s.Params, Trigger: s.Trigger,
		Timezone: s.Timezone, Paused: s.Paused, PausedAt: s.PausedAt, MaxAttempts: s.MaxAttempts,
		NextFire: s.NextFire, LastFire: s.LastFire, FireCount: s.FireCount, MissedCount: s.MissedCount, Done: s.Done,
		Policy:    PolicyFromStore(s.Policy),
		CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt, Source: s.Source,
	}
	if s.Timeout > 0 {
		v.Timeout = s.Timeout.String()
	}
	return v
}

// ScheduleList is the body of GET /api/v1/schedules.
type ScheduleList struct {
	Schedules []Schedule `json:"schedules"`
	Count     int        `json:"count"`
	// NextCursor, passed as ?cursor=, continues the listing after this
	// page; absent on the last page.
	NextCursor string `json:"next_cursor,omitempty"`
}

// ExecutionList is the body of GET /api/v1/executions and
// GET /api/v1/schedules/{id}/executions, newest first.
type ExecutionList struct {
	Executions []store.Execution `json:"executions"`
	Count      int               `json:"count"`
	// NextCursor, passed as ?cursor=, continues the listing after this
	// page; absent on the last page. A page may hold fewer than limit
	// records and still have one: a page reads a bounded number of
	// records (store.PageScan) to find its matches.
	NextCursor string `json:"next_cursor,omitempty"`
}

// ExecutionAttempts is the body of GET /api/v1/executions/{execution_id}:
// every attempt of one fire, first attempt first.
type ExecutionAttempts struct {
	ExecutionID string            `json:"execution_id"`
	Attempts    []store.Execution `json:"attempts"`
}

// HandlerList is the body of GET /api/v1/handlers and GET /api/handlers.
type HandlerList struct {
	Handlers []schedtype.HandlerStatus `json:"handlers"`
}

// Stats is the body of GET /api/v1/stats: the store's summary plus the
// success rate in percent and the number of missed occurrences. Missed is
// the sum of the schedules' missed_count, so that it agrees with what
// each schedule shows; by_status.missed counts missed records, one of
// which may cover many skipped occurrences ("N occurrences ... were
// skipped"), and is kept with the history of deleted schedules. Total
// counts missed records; the success rate does not, since a missed
// occurrence never ran.
type Stats struct {
	store.Stats
	Missed      int64   `json:"missed"`
	SuccessRate float64 `json:"success_rate"`
}

// Triggered is the body of POST /api/v1/schedules/{id}/run: what the engine
// decided. Outcome is "started" (ExecutionID is the new execution),
// "skipped" (the overlap policy, or a removed handler, kept it from running:
// ExecutionID is its missed record, Reason says why) or "queued" (it runs
// after the running one; no ExecutionID yet).
type Triggered struct {
	ScheduleID  string       `json:"schedule_id"`
	ExecutionID string       `json:"execution_id"`
	Outcome     string       `json:"outcome"`
	Status      store.Status `json:"status,omitempty"`
	Reason      string       `json:"reason,omitempty"`
}

// Handler states the API adds to the scheduler's ("online", "offline",
// "stopping"): a removed handler is not listed, and its schedules show
// HandlerRemoved; a handler the scheduler does not know shows
// HandlerUnknown.
const (
	HandlerRemoved = "removed"
	HandlerUnknown = "unknown"
)

// Outcomes of a run asked for by hand (Triggered.Outcome).
const (
	OutcomeStarted = "started"
	OutcomeSkipped = "skipped"
	OutcomeQueued  = "queued"
)

// TriggeredFrom renders the engine's answer to a run of schedule id.
func TriggeredFrom(id string, e store.Execution) Triggered {
	t := Triggered{ScheduleID: id, ExecutionID: e.ID, Status: e.Status, Outcome: OutcomeStarted}
	switch {
	case e.Status == store.StatusMissed:
		t.Outcome, t.Reason = OutcomeSkipped, e.Error
	case e.ID == "":
		t.Outcome, t.Reason = OutcomeQueued, e.Error
	}
	return t
}

// Health is the body of GET /api/v1/health.
type Health struct {
	Status  string `json:"status"`
	Service string `json:"service"`
	Version string `json:"version,omitempty"`
}

// successRate is the percentage of successes among finished attempts that
// ran (missed occurrences are not attempts), rounded to two decimals, 0 when
// there are none.
func successRate(st store.Stats) float64 {
	ran := st.Total - st.ByStatus[store.StatusMissed]
	if ran <= 0 {
		return 0
	}
	r := float64(st.ByStatus[store.StatusSucceeded]) / float64(ran) * 100
	return math.Round(r*100) / 100
}
