package notify

import (
	"context"
	"slices"
	"time"

	"github.com/schedulezero/schedulezero/pkg/event"
	"github.com/schedulezero/schedulezero/pkg/store"
)

// catchUpSlack is how far before the newest recorded notification the
// start-up catch-up looks: events are handled in order, so everything
// before the event of the newest notification was handled, but commits
// of nearby records may land in another order.
const catchUpSlack = time.Minute

// catchUpRecords bounds the records the catch-up reads.
const catchUpRecords = 1000

// catchUp notifies the final failures and missed runs recorded since the
// newest notification (since) whose notifications were not recorded: a
// crash between an execution's commit and its notification's (a few
// milliseconds), or an event a full inbox dropped. They are handled as
// their events would have been, and the keys of the notifications
// already recorded keep each to one. Start runs it only when the store
// holds notifications, so that a first start or an upgrade sends nothing
// old; it reads the newest catchUpRecords records at most.
func (n *Notifier) catchUp(ctx context.Context, since time.Time) {
	hist, err := n.opts.Store.ListExecutions(ctx, store.ExecutionFilter{Limit: catchUpRecords})
	if err != nil {
		n.log.Warn("notification: reading the history for the start-up catch-up", "err", err)
		return
	}
	from := since.Add(-catchUpSlack)
	slices.Reverse(hist) // oldest first, as the events came
	for _, x := range hist {
		if x.ScheduleID == "" || x.CompletedAt.Before(from) {
			continue
		}
		e := event.Event{Time: x.CompletedAt, ScheduleID: x.ScheduleID, HandlerID: x.HandlerID, Method: x.Method,
			ExecutionID: x.ID, Attempt: x.Attempt, MaxAttempts: x.MaxAttempts, Status: string(x.Status),
			Reason: x.Error, ScheduledAt: x.ScheduledAt}
		switch {
		case x.Status == store.StatusMissed:
			e.Kind = event.ExecutionMissed
		case x.Status != store.StatusSucceeded && x.Status.Finished() && x.Attempt >= x.MaxAttempts:
			e.Kind, e.Final = event.ExecutionFinished, true
		default:
			// Unfinished, a retry follows, or a success: a lost recovery
			// is not worth a history read per success at each start.
			continue
		}
		n.handle(ctx, e)
	}
}
