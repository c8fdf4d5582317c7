package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/schedulezero/schedulezero/pkg/field"
	"github.com/schedulezero/schedulezero/pkg/store"
	"github.com/schedulezero/schedulezero/pkg/version"
)

var errDuplicate = errors.New("already recorded")

// errPermanent marks a delivery error that a retry cannot fix.
type errPermanent struct{ error }

func (e errPermanent) Unwrap() error { return e.error }

// dedupeKey is the part of a notification ID after its time prefix: the
// event and what it is about, so that one event is notified once.
func dedupeKey(id string) string {
	if _, k, ok := strings.Cut(id, "."); ok {
		return k
	}
	return id
}

// targetOf is rec's target.
func targetOf(rec store.Notification) (store.Target, error) {
	return store.ParseTarget("target", rec.Target)
}

// add records a pending notification of msg to target under key and queues
// it for up to attempts deliveries.
func (n *Notifier) add(ctx context.Context, target, key string, msg Message, attempts int, waiter chan store.Notification) (store.Notification, error) {
	t, err := store.ParseTarget("target", target)
	if err != nil {
		return store.Notification{}, err
	}
	now := n.opts.NowFunc().UTC()
	// A time prefix keeps the store's key order the queue's.
	msg.ID = fmt.Sprintf("%016x.%s", now.UnixNano(), key)
	if len(msg.ID) > 250 {
		msg.ID = msg.ID[:250]
	}
	if msg.Time.IsZero() {
		msg.Time = now
	}
	body, err := json.Marshal(msg)
	if err != nil {
		return store.Notification{}, fmt.Errorf("notification %s: %w", msg.ID, err)
	}
	rec := store.Notification{ID: msg.ID, Target: target, Event: msg.Event, ScheduleID: msg.ScheduleID,
		ExecutionID: msg.ExecutionID, Payload: body, Status: store.NotificationPending, CreatedAt: now}
	n.mu.Lock()
	switch {
	case n.known[key]:
		n.mu.Unlock()
		return store.Notification{}, errDuplicate
	case len(n.queue) >= n.opts.Queue:
		rec.Status, rec.Error = store.NotificationFailed, fmt.Sprintf("queue full (%d notifications waiting)", len(n.queue))
	}
	n.known[key] = true
	n.mu.Unlock()
	if err := n.opts.Store.Commit(ctx, store.Writes{Notifications: []store.Notification{rec}}); err != nil {
		n.mu.Lock()
		delete(n.known, key)
		n.mu.Unlock()
		return store.Notification{}, fmt.Errorf("notification %s: %w", rec.ID, err)
	}
	if rec.Status == store.NotificationFailed {
		n.log.Error("notification dropped", "id", rec.ID, "err", rec.Error)
		if waiter != nil {
			waiter <- rec
		}
		return rec, nil
	}
	n.mu.Lock()
	n.queue[rec.ID] = &item{rec: rec, target: t, due: now, attempts: attempts}
	if waiter != nil {
		n.waiters[rec.ID] = append(n.waiters[rec.ID], waiter)
	}
	n.mu.Unlock()
	n.poke()
	return rec, nil
}

func (n *Notifier) poke() {
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// dispatch starts the deliveries that are due, Workers at a time.
func (n *Notifier) dispatch(ctx context.Context) {
	sem := make(chan struct{}, n.opts.Workers)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		now := n.opts.NowFunc()
		var next *item
		n.mu.Lock()
		for _, it := range n.queue {
			if !it.inFlight && (next == nil || it.due.Before(next.due)) {
				next = it
			}
		}
		if next != nil && !next.due.After(now) {
			next.inFlight = true
		}
		n.mu.Unlock()
		if next != nil && next.inFlight {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			n.wg.Add(1)
			go func(it *item) {
				defer n.wg.Done()
				defer func() { <-sem }()
				n.deliver(ctx, it)
				n.poke()
			}(next)
			continue
		}
		wait := time.Hour
		if next != nil {
			wait = next.due.Sub(now)
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-n.wake:
		case <-timer.C:
		}
	}
}

// deliver makes one delivery of it and records the outcome.
func (n *Notifier) deliver(ctx context.Context, it *item) {
	err := n.send(ctx, it.target, it.rec)
	if ctx.Err() != nil {
		n.mu.Lock()
		it.inFlight = false
		n.mu.Unlock()
		return // stopping: it stays pending for the next start
	}
	rec := it.rec
	rec.Attempts++
	now := n.opts.NowFunc().UTC()
	var perm errPermanent
	switch {
	case err == nil:
		rec.Status, rec.Error, rec.SentAt = store.NotificationSent, "", now
	case errors.As(err, &perm) || rec.Attempts >= it.attempts:
		rec.Status, rec.Error = store.NotificationFailed, err.Error()
	default:
		rec.Error = err.Error()
	}
	if cerr := n.opts.Store.Commit(ctx, store.Writes{Notifications: []store.Notification{rec}}); cerr != nil {
		n.log.Error("notification outcome not recorded", "id", rec.ID, "err", cerr)
		if rec.Status != store.NotificationPending {
			rec.Status = store.NotificationPending // retry, so the record tells the truth
		}
	}
	n.mu.Lock()
	it.rec, it.inFlight = rec, false
	if rec.Status != store.NotificationPending {
		delete(n.queue, rec.ID)
		for _, w := range n.waiters[rec.ID] {
			w <- rec
		}
		delete(n.waiters, rec.ID)
	} else {
		it.due = now.Add(n.backoff(rec.Attempts))
	}
	n.mu.Unlock()
	if n.opts.OutcomeFunc != nil {
		outcome := string(rec.Status)
		if rec.Status == store.NotificationPending {
			outcome = "retry"
		}
		n.opts.OutcomeFunc(rec.Event, outcome)
	}
	switch rec.Status {
	case store.NotificationSent:
		n.log.Info("notification sent", "id", rec.ID, "kind", rec.Event, "schedule_id", rec.ScheduleID, "target", rec.Target, "attempt", rec.Attempts)
	case store.NotificationFailed:
		n.log.Error("notification failed", "id", rec.ID, "kind", rec.Event, "schedule_id", rec.ScheduleID, "target", rec.Target, "attempt", rec.Attempts, "err", err)
	default:
		n.log.Warn("notification not delivered; retrying", "id", rec.ID, "target", rec.Target, "attempt", rec.Attempts, "retry_in", it.due.Sub(now), "err", err)
	}
}

// backoff is the delay after the n-th failed delivery.
func (n *Notifier) backoff(attempt int) time.Duration {
	d := n.opts.Backoff
	for i := 1; i < attempt && d < n.opts.BackoffMax; i++ {
		d *= 2
	}
	return min(d, n.opts.BackoffMax)
}

// send delivers rec to t once.
func (n *Notifier) send(ctx context.Context, t store.Target, rec store.Notification) error {
	if t.URL == "" {
		if err := n.opts.Engine.Call(ctx, t.Handler, t.Method, rec.Payload); err != nil {
			return fmt.Errorf("handler %s method %s: %w", t.Handler, t.Method, err)
		}
		return nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.URL, bytes.NewReader(rec.Payload))
	if err != nil {
		return errPermanent{fmt.Errorf("webhook %s: %w", t.URL, err)}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "schedulezero/"+version.Version)
	req.Header.Set(EventHeader, rec.Event)
	req.Header.Set(DeliveryHeader, rec.ID)
	if len(n.opts.Secret) > 0 {
		req.Header.Set(SignatureHeader, Sign(n.opts.Secret, rec.Payload))
	}
	resp, err := n.opts.Client.Do(req)
	if err != nil {
		return fmt.Errorf("webhook %s: %w", t.URL, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 == 2 {
		return nil
	}
	err = fmt.Errorf("webhook %s: %s: %s", t.URL, resp.Status, bytes.TrimSpace(b))
	switch resp.StatusCode {
	case http.StatusRequestTimeout, http.StatusTooEarly, http.StatusTooManyRequests:
		return err
	}
	if resp.StatusCode/100 == 4 {
		return errPermanent{err} // the receiver refuses it: resending changes nothing
	}
	return err
}

// Test records a test notification to target (the default failure target
// when empty), makes one delivery and returns its outcome.
func (n *Notifier) Test(ctx context.Context, target string) (store.Notification, error) {
	if target == "" {
		target = pick("", n.opts.Defaults.OnFailure)
	}
	if target == "" {
		return store.Notification{}, field.Errorf("target", "is empty and the scheduler has no --notify-on-failure").
			WithFix("name a target: an https:// URL or handler:NAME[/METHOD]")
	}
	now := n.opts.NowFunc().UTC()
	msg := Message{Event: EventTest, Time: now, Summary: "a test notification from the scheduler (schedulezero notify test)"}
	ch := make(chan store.Notification, 1)
	rec, err := n.add(ctx, target, fmt.Sprintf("%s-%d", EventTest, now.UnixNano()), msg, 1, ch)
	if err != nil {
		return store.Notification{}, err
	}
	select {
	case out := <-ch:
		return out, nil
	case <-ctx.Done():
		return rec, fmt.Errorf("notification %s: %w", rec.ID, ctx.Err())
	}
}
