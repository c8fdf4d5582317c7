package scheduler

import (
	"github.com/schedulezero/schedulezero/pkg/event"
	"github.com/schedulezero/schedulezero/pkg/store"
)

// Events is the engine's event hub: the API's event stream and the
// dashboard subscribe to it. See package event for its contract.
func (s *Scheduler) Events() *event.Hub { return s.events }

// emitExecutions publishes what durable execution records say: an attempt
// sent (running), ended (a final status) or an occurrence missed. A record
// pending (waiting for its handler, or a retry not yet due) says nothing
// new. It runs on whichever goroutine learnt of the commit, never under
// s.mu.
func (s *Scheduler) emitExecutions(recs []store.Execution) {
	for i := range recs {
		rec := &recs[i]
		var kind event.Kind
		final := false
		switch rec.Status {
		case store.StatusPending:
			continue
		case store.StatusRunning:
			kind = event.ExecutionStarted
		case store.StatusMissed:
			kind = event.ExecutionMissed
		default:
			kind = event.ExecutionFinished
			final = !retried(recs[i+1:], rec)
		}
		s.events.Publish(event.Event{
			Kind:        kind,
			ScheduleID:  rec.ScheduleID,
			HandlerID:   rec.HandlerID,
			Method:      rec.Method,
			ExecutionID: rec.ID,
			Attempt:     rec.Attempt,
			MaxAttempts: rec.MaxAttempts,
			Status:      string(rec.Status),
			Reason:      rec.Error,
			ScheduledAt: rec.ScheduledAt,
			DurationMS:  rec.DurationMS,
			Final:       final,
		})
	}
}

// retried reports whether rest holds the next attempt of rec's execution:
// finishRetry commits an ended attempt and its retry together.
func retried(rest []store.Execution, rec *store.Execution) bool {
	for i := range rest {
		if rest[i].ID == rec.ID && rest[i].Attempt == rec.Attempt+1 {
			return true
		}
	}
	return false
}

// emitSchedule publishes a durable change of schedule rec.
func (s *Scheduler) emitSchedule(kind event.Kind, rec store.Schedule) {
	s.events.Publish(event.Event{Kind: kind, ScheduleID: rec.ID, HandlerID: rec.HandlerID, Method: rec.Method})
}

// handlerEvent is the event of a handler whose status became status.
func handlerEvent(id, status string) event.Event {
	kind := event.HandlerOffline
	switch status {
	case handlerOnline:
		kind = event.HandlerOnline
	case handlerRemoved:
		kind = event.HandlerRemoved
	}
	return event.Event{Kind: kind, HandlerID: id, Status: status}
}
