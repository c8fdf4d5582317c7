// Package event is the scheduler engine's event vocabulary and the hub that
// carries it to observers and subscribers (the API's event stream, the
// dashboard, a metrics exporter).
//
// The engine emits an event after the commit that makes the change durable,
// never under a lock its fire path holds for long, and never waits for a
// consumer. There are two ways to consume:
//
//   - Observers (Observer), given to the hub at construction, are called
//     synchronously, in sequence order, on the goroutine that emits: they
//     must be cheap and must not block (count, record, hand off). A slow
//     observer slows the engine; that is why there are only a few, and only
//     ones the daemon builds in.
//   - Subscriptions (Hub.Subscribe, Hub.SubscribeAfter) each have a bounded
//     channel. Publishing never waits for one: a subscriber whose channel is
//     full is dropped, its channel closed and its Err set to ErrLost. It then
//     resumes with SubscribeAfter from the last sequence number it saw; the
//     hub's ring of recent events replays what it missed, and what the ring
//     no longer holds is counted in Subscription.Gap, to be read from the
//     execution history instead.
//
// Sequence numbers increase by one per event, from 1, for the life of one
// hub (one scheduler process); Epoch tells two hubs apart, so that a
// consumer that reconnects after a restart knows its position means nothing.
package event

import (
	"errors"
	"time"
)

// Kind names what happened.
type Kind string

// The kinds of events. The strings are part of the API (the event stream's
// "event:" field).
const (
	ExecutionStarted  Kind = "execution.started"  // an attempt was sent to its handler
	ExecutionFinished Kind = "execution.finished" // an attempt ended: Status, Reason
	ExecutionMissed   Kind = "execution.missed"   // an occurrence did not run: Reason

	ScheduleCreated Kind = "schedule.created"
	ScheduleChanged Kind = "schedule.changed"
	SchedulePaused  Kind = "schedule.paused"
	ScheduleResumed Kind = "schedule.resumed"
	ScheduleDeleted Kind = "schedule.deleted"

	HandlerOnline  Kind = "handler.online"
	HandlerOffline Kind = "handler.offline"
	HandlerRemoved Kind = "handler.removed"
)

// Event is one thing the engine did, once it was durable. Fields that do
// not apply to its Kind are zero.
type Event struct {
	Seq  uint64    `json:"seq"`
	Time time.Time `json:"time"`
	Kind Kind      `json:"kind"`

	ScheduleID  string `json:"schedule_id,omitempty"`
	HandlerID   string `json:"handler_id,omitempty"`
	Method      string `json:"method,omitempty"`
	ExecutionID string `json:"execution_id,omitempty"`
	Attempt     int    `json:"attempt,omitempty"`
	MaxAttempts int    `json:"max_attempts,omitempty"`
	// Status is the attempt's status (store.Status) for executions, the
	// handler's status for handlers.
	Status string `json:"status,omitempty"`
	// Reason says why an attempt failed or an occurrence was missed.
	Reason      string    `json:"reason,omitempty"`
	ScheduledAt time.Time `json:"scheduled_at,omitzero"`
	DurationMS  float64   `json:"duration_ms,omitempty"`
	// Final marks the execution.finished event of an execution's last
	// attempt: no retry follows (it succeeded, or it failed for good).
	Final bool `json:"final,omitempty"`
}

// Observer is called synchronously for every event; see the package
// comment for what it may do.
type Observer func(Event)

// ErrLost is a subscription's Err once the hub dropped it because its
// channel was full: resume with Hub.SubscribeAfter.
var ErrLost = errors.New("event subscriber fell behind; resume from its last sequence number")
