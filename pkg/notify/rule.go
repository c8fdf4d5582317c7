package notify

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/schedulezero/schedulezero/pkg/event"
	"github.com/schedulezero/schedulezero/pkg/store"
)

// run handles the events and checks the dead man's switches until ctx ends.
func (n *Notifier) run(ctx context.Context) {
	tick := time.NewTicker(n.opts.CheckEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			n.drain()
			return
		case e := <-n.inbox:
			n.handle(ctx, e)
		case <-tick.C:
			n.checkDeadMen(ctx)
		}
	}
}

// drain records the notifications of the events still in the inbox, so
// that a stop after the engine's loses none; they are delivered after the
// next start.
func (n *Notifier) drain() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		select {
		case e := <-n.inbox:
			n.handle(ctx, e)
		default:
			return
		}
	}
}

// policyOf is schedule id's policy; a schedule deleted meanwhile has the
// zero policy (the defaults).
func (n *Notifier) policyOf(ctx context.Context, id string) store.Policy {
	s, err := n.opts.Engine.GetSchedule(ctx, id)
	if err != nil {
		return store.Policy{}
	}
	return s.Policy
}

// pick is the target: the schedule's, else the default; "" for none.
func pick(own, def string) string {
	if own == "" {
		own = def
	}
	if own == store.TargetNone {
		return ""
	}
	return own
}

// handle turns one event into the notifications it calls for.
func (n *Notifier) handle(ctx context.Context, e event.Event) {
	p := n.policyOf(ctx, e.ScheduleID)
	d := n.opts.Defaults
	msg := Message{Time: e.Time, ScheduleID: e.ScheduleID, HandlerID: e.HandlerID, Method: e.Method,
		ExecutionID: e.ExecutionID, Attempt: e.Attempt, MaxAttempts: e.MaxAttempts, Status: e.Status,
		Reason: e.Reason, ScheduledAt: e.ScheduledAt}
	switch {
	case e.Kind == event.ExecutionMissed:
		msg.Event = EventMissed
		msg.Summary = fmt.Sprintf("schedule %q missed a run: %s", e.ScheduleID, e.Reason)
		n.enqueue(ctx, pick(p.OnMissed, d.OnMissed), EventMissed+"-"+e.ExecutionID, msg)
	case e.Status == string(store.StatusSucceeded):
		n.lastSuccess[e.ScheduleID] = e.Time
		if t := pick(p.OnRecovery, d.OnRecovery); t != "" && n.wasFailing(ctx, e) {
			msg.Event = EventRecovery
			msg.Summary = fmt.Sprintf("schedule %q succeeded again after a failure", e.ScheduleID)
			n.enqueue(ctx, t, EventRecovery+"-"+e.ExecutionID, msg)
		}
		n.failing[e.ScheduleID] = false
	default:
		n.failing[e.ScheduleID] = true
		msg.Event = EventFailure
		msg.Summary = fmt.Sprintf("schedule %q failed (%s, attempt %d of %d): %s", e.ScheduleID, e.Status, e.Attempt, e.MaxAttempts, e.Reason)
		n.enqueue(ctx, pick(p.OnFailure, d.OnFailure), EventFailure+"-"+e.ExecutionID, msg)
	}
}

// wasFailing reports whether the execution before e's ended in a failure:
// known since this process saw it, else read from the history (the
// scheduler restarted in between).
func (n *Notifier) wasFailing(ctx context.Context, e event.Event) bool {
	if v, ok := n.failing[e.ScheduleID]; ok {
		return v
	}
	hist, err := n.opts.Store.ListExecutions(ctx, store.ExecutionFilter{ScheduleID: e.ScheduleID, Limit: 50})
	if err != nil {
		n.log.Warn("notification: reading history for a recovery", "schedule", e.ScheduleID, "err", err)
		return false
	}
	for _, x := range hist { // newest first: the first other execution's last attempt
		if x.ID == e.ExecutionID || !x.Status.Finished() || x.Status == store.StatusMissed {
			continue
		}
		return x.Status != store.StatusSucceeded
	}
	return false
}

// checkDeadMen notifies, once per silence, of each active schedule with a
// dead man's switch that has not succeeded for longer than its threshold.
func (n *Notifier) checkDeadMen(ctx context.Context) {
	scheds, err := n.opts.Engine.ListSchedules(ctx)
	if err != nil {
		n.log.Warn("notification: listing schedules for the dead man's switches", "err", err)
		return
	}
	now := n.opts.NowFunc()
	d := n.opts.Defaults
	for _, s := range scheds {
		t := pick(s.Policy.OnDeadMan, d.OnDeadMan)
		after := s.Policy.DeadManAfter
		if after == 0 {
			after = d.DeadManAfter
		}
		if t == "" || after <= 0 || s.Paused || s.Done {
			continue
		}
		last, ok := n.lastSuccess[s.ID]
		if !ok {
			last = s.CreatedAt
			hist, err := n.opts.Store.ListExecutions(ctx, store.ExecutionFilter{ScheduleID: s.ID, Status: store.StatusSucceeded, Limit: 1})
			if err == nil && len(hist) == 1 {
				last = hist[0].CompletedAt
			}
			n.lastSuccess[s.ID] = last
		}
		if now.Sub(last) <= after {
			continue
		}
		msg := Message{Event: EventDeadMan, Time: now, ScheduleID: s.ID, HandlerID: s.HandlerID, Method: s.Method,
			LastSuccessAt: last, SilentSeconds: now.Sub(last).Seconds(),
			Summary: fmt.Sprintf("schedule %q has not succeeded for %s (threshold %s)", s.ID, now.Sub(last).Round(time.Second), after)}
		n.enqueue(ctx, t, fmt.Sprintf("%s-%s-%d", EventDeadMan, s.ID, last.UnixNano()), msg)
	}
}

// enqueue records a notification of msg to target (none when empty),
// unless one with the same key was recorded before, and queues its
// delivery.
func (n *Notifier) enqueue(ctx context.Context, target, key string, msg Message) {
	if target == "" {
		return
	}
	if _, err := n.add(ctx, target, key, msg, n.opts.Attempts, nil); err != nil && !errors.Is(err, errDuplicate) {
		n.log.Error("notification not recorded", "event", msg.Event, "schedule", msg.ScheduleID, "target", target, "err", err)
	}
}
