package notify

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/schedulezero/schedulezero/pkg/event"
	"github.com/schedulezero/schedulezero/pkg/store"
)

// scanPage is how many schedules one step of the start-up scan reads.
const scanPage = 1000

// run handles the events and checks the dead man's switches until ctx
// ends. It first pages through the schedules to learn which name targets
// of their own (own), handling events between pages; after that it asks
// the engine nothing per event.
func (n *Notifier) run(ctx context.Context) {
	tick := time.NewTicker(n.opts.CheckEvery)
	defer tick.Stop()
	for {
		if !n.scanned {
			select {
			case <-ctx.Done():
				n.drain()
				return
			case <-n.inbox.ready:
				n.handleInbox(ctx)
			default:
				n.scanStep(ctx)
			}
			continue
		}
		select {
		case <-ctx.Done():
			n.drain()
			return
		case <-n.inbox.ready:
			n.handleInbox(ctx)
		case <-tick.C:
			n.checkDeadMen(ctx)
		}
	}
}

// scanStep reads one page of schedules' policies into own.
func (n *Notifier) scanStep(ctx context.Context) {
	pols, next, err := n.opts.Engine.PolicyPage(ctx, n.scanAfter, scanPage)
	if err != nil {
		if ctx.Err() == nil {
			n.log.Error("notification: reading the schedules' targets; the scheduler's defaults apply to the rest", "id", n.scanAfter, "err", err)
		}
		n.scanned = true
		return
	}
	for id, p := range pols {
		if t := targetsOf(p); t != (targets{}) {
			n.own[id] = t
		}
	}
	n.scanAfter, n.scanned = next, next == ""
	n.scanPages++
	if n.scanned && n.scanPages > 1 {
		// The scan read every schedule's id, garbage that an idle
		// scheduler's next collection may be minutes away from: at 10,000
		// schedules it kept 0.4 MB resident, 40 bytes a schedule
		// (docs/performance.md). A scan of one page leaves too little to
		// be worth a collection.
		n.release()
	}
}

// drain records the notifications of the events still in the inbox, so
// that a stop after the engine's loses none; they are delivered after the
// next start.
func (n *Notifier) drain() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for n.handleInbox(ctx) > 0 {
	}
}

// handleInbox handles every event waiting in the inbox, in order, and
// returns how many there were.
func (n *Notifier) handleInbox(ctx context.Context) int {
	n.batch = n.inbox.take(n.batch)
	for _, e := range n.batch {
		n.handle(ctx, e)
	}
	return len(n.batch)
}

// targets is the notification part of a schedule's policy.
type targets struct {
	onFailure, onMissed, onRecovery, onDeadMan string
	deadManAfter                               time.Duration
}

func targetsOf(p store.Policy) targets {
	return targets{p.OnFailure, p.OnMissed, p.OnRecovery, p.OnDeadMan, p.DeadManAfter}
}

// learn records schedule s's own targets, if it has any.
func (n *Notifier) learn(s store.Schedule) {
	if t := targetsOf(s.Policy); t != (targets{}) {
		n.own[s.ID] = t
	} else {
		delete(n.own, s.ID)
	}
}

// forget drops what the notifier holds of schedule id.
func (n *Notifier) forget(id string) {
	delete(n.own, id)
	delete(n.failing, id)
	delete(n.lastSuccess, id)
}

// targetsFor is schedule id's own targets: from own once the scan is done,
// from the engine before.
func (n *Notifier) targetsFor(ctx context.Context, id string) targets {
	if n.scanned {
		return n.own[id]
	}
	s, err := n.opts.Engine.GetSchedule(ctx, id)
	if err != nil {
		return targets{}
	}
	return targetsOf(s.Policy)
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

// deadMan is schedule t's dead man's target and threshold; "" for none.
func (n *Notifier) deadMan(t targets) (string, time.Duration) {
	target := pick(t.onDeadMan, n.opts.Defaults.OnDeadMan)
	after := t.deadManAfter
	if after == 0 {
		after = n.opts.Defaults.DeadManAfter
	}
	if target == "" || after <= 0 {
		return "", 0
	}
	return target, after
}

// handle turns one event into the notifications it calls for.
func (n *Notifier) handle(ctx context.Context, e event.Event) {
	switch e.Kind {
	case event.ScheduleCreated, event.ScheduleChanged:
		if s, err := n.opts.Engine.GetSchedule(ctx, e.ScheduleID); err == nil {
			n.learn(s)
		}
		return
	case event.ScheduleDeleted:
		n.forget(e.ScheduleID)
		return
	}
	p := n.targetsFor(ctx, e.ScheduleID)
	d := n.opts.Defaults
	msg := Message{Time: e.Time, ScheduleID: e.ScheduleID, HandlerID: e.HandlerID, Method: e.Method,
		ExecutionID: e.ExecutionID, Attempt: e.Attempt, MaxAttempts: e.MaxAttempts, Status: e.Status,
		Reason: e.Reason, ScheduledAt: e.ScheduledAt}
	recovery := pick(p.onRecovery, d.OnRecovery)
	switch {
	case e.Kind == event.ExecutionMissed:
		msg.Event = EventMissed
		msg.Summary = fmt.Sprintf("schedule %q missed a run: %s", e.ScheduleID, e.Reason)
		n.enqueue(ctx, pick(p.onMissed, d.OnMissed), EventMissed+"-"+e.ExecutionID, msg)
	case e.Status == string(store.StatusSucceeded):
		if t, _ := n.deadMan(p); t != "" {
			n.lastSuccess[e.ScheduleID] = e.Time
		}
		if recovery != "" {
			if n.wasFailing(ctx, e) {
				msg.Event = EventRecovery
				msg.Summary = fmt.Sprintf("schedule %q succeeded again after a failure", e.ScheduleID)
				n.enqueue(ctx, recovery, EventRecovery+"-"+e.ExecutionID, msg)
			}
			n.failing[e.ScheduleID] = false
		}
	default:
		if recovery != "" {
			n.failing[e.ScheduleID] = true
		}
		msg.Event = EventFailure
		msg.Summary = fmt.Sprintf("schedule %q failed (%s, attempt %d of %d): %s", e.ScheduleID, e.Status, e.Attempt, e.MaxAttempts, e.Reason)
		n.enqueue(ctx, pick(p.onFailure, d.OnFailure), EventFailure+"-"+e.ExecutionID, msg)
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
		n.log.Warn("notification: reading history for a recovery", "schedule_id", e.ScheduleID, "err", err)
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
// With a default switch every schedule has one, and each check pages
// through them all; without, it visits only those that set their own.
func (n *Notifier) checkDeadMen(ctx context.Context) {
	if t, _ := n.deadMan(targets{}); t != "" {
		after := ""
		for {
			page, more, err := n.opts.Engine.SchedulePage(ctx, after, scanPage)
			if err != nil {
				n.log.Warn("notification: listing schedules for the dead man's switches", "err", err)
				return
			}
			for _, s := range page {
				n.checkDeadMan(ctx, s)
			}
			if !more || len(page) == 0 {
				return
			}
			after = page[len(page)-1].ID
		}
	}
	for id, t := range n.own {
		if t.onDeadMan == "" || t.onDeadMan == store.TargetNone {
			continue
		}
		if s, err := n.opts.Engine.GetSchedule(ctx, id); err == nil {
			n.checkDeadMan(ctx, s)
		}
	}
}

// checkDeadMan checks schedule s's switch.
func (n *Notifier) checkDeadMan(ctx context.Context, s store.Schedule) {
	t, after := n.deadMan(targetsOf(s.Policy))
	if t == "" || s.Paused || s.Done {
		return
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
	now := n.opts.NowFunc()
	if now.Sub(last) <= after {
		return
	}
	msg := Message{Event: EventDeadMan, Time: now, ScheduleID: s.ID, HandlerID: s.HandlerID, Method: s.Method,
		LastSuccessAt: last, SilentSeconds: now.Sub(last).Seconds(),
		Summary: fmt.Sprintf("schedule %q has not succeeded for %s (threshold %s)", s.ID, now.Sub(last).Round(time.Second), after)}
	n.enqueue(ctx, t, fmt.Sprintf("%s-%s-%d", EventDeadMan, s.ID, last.UnixNano()), msg)
}

// enqueue records a notification of msg to target (none when empty),
// unless one with the same key was recorded before, and queues its
// delivery.
func (n *Notifier) enqueue(ctx context.Context, target, key string, msg Message) {
	if target == "" {
		return
	}
	if _, err := n.add(ctx, target, key, msg, n.opts.Attempts, nil); err != nil && !errors.Is(err, errDuplicate) {
		n.log.Error("notification not recorded", "kind", msg.Event, "schedule_id", msg.ScheduleID, "target", target, "err", err)
	}
}
