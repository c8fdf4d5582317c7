package notify

import (
	"context"
	"slices"
	"time"

	"github.com/schedulezero/schedulezero/pkg/event"
	"github.com/schedulezero/schedulezero/pkg/store"
)

// catchUpWindow is how far before the newest execution record the
// start-up catch-up looks. A notification is committed just after the
// execution record it is about; a crash in between (milliseconds) leaves
// the record without it. A minute covers that with room.
const catchUpWindow = time.Minute

// catchUpRecords bounds the records the catch-up reads.
const catchUpRecords = 1000

// catchUp notifies the final attempts and missed runs recorded in the
// last minute before the previous process ended whose notifications it
// did not record: they are handled as the events would have been, and
// the keys of the notifications already recorded keep each to one. It
// runs only when the store holds notifications, so that a scheduler
// that never notified (an upgrade, a first start) sends nothing old.
func (n *Notifier) catchUp(ctx context.Context) {
	hist, err := n.opts.Store.ListExecutions(ctx, store.ExecutionFilter{Limit: catchUpRecords})
	if err != nil {
		n.log.Warn("notification: reading the history for the start-up catch-up", "err", err)
		return
	}
	at := func(x store.Execution) time.Time {
		if !x.CompletedAt.IsZero() {
			return x.CompletedAt
		}
		return x.ScheduledAt
	}
	var end time.Time
	for _, x := range hist {
		if t := at(x); t.After(end) {
			end = t
		}
	}
	slices.Reverse(hist) // oldest first, as the events came
	for _, x := range hist {
		if x.ScheduleID == "" || at(x).Before(end.Add(-catchUpWindow)) {
			continue
		}
		e := event.Event{Time: at(x), ScheduleID: x.ScheduleID, HandlerID: x.HandlerID, Method: x.Method,
			ExecutionID: x.ID, Attempt: x.Attempt, MaxAttempts: x.MaxAttempts, Status: string(x.Status),
			Reason: x.Error, ScheduledAt: x.ScheduledAt}
		switch {
		case x.Status == store.StatusMissed:
			e.Kind = event.ExecutionMissed
		case x.Status == store.StatusSucceeded || x.Status.Finished() && x.Attempt >= x.MaxAttempts:
			e.Kind, e.Final = event.ExecutionFinished, true
		default:
			continue // unfinished, or a retry follows
		}
		n.handle(ctx, e)
	}
}
