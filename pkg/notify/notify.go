// Package notify tells someone when a schedule's final attempt failed, an
// occurrence was missed, a schedule recovered (its first success after a
// failure), or a schedule has not succeeded for longer than its dead man's
// threshold. See docs/notifications.md.
//
// The engine hands it events through Observe, which never blocks: a bounded
// inbox, and the notifier's own goroutine does the rest. Each notification
// is first committed to the store (status pending), then delivered with
// retries and backoff, and its outcome (sent, failed) committed too; a
// scheduler that restarts delivers what is still pending, so a notification
// is sent at least once. A receiver may see one twice (after a crash between
// its answer and the commit); Message.ID tells duplicates apart.
package notify

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/schedulezero/schedulezero/pkg/event"
	"github.com/schedulezero/schedulezero/pkg/store"
)

// The events a notification is for.
const (
	EventFailure  = "failure"  // an execution's final attempt failed
	EventMissed   = "missed"   // an occurrence did not run
	EventRecovery = "recovery" // the first success after a failure
	EventDeadMan  = "dead_man" // no success for longer than the threshold
	EventTest     = "test"     // schedulezero notify test
)

// Defaults are the targets of schedules whose policy names none.
type Defaults struct {
	OnFailure, OnMissed, OnRecovery, OnDeadMan string
	DeadManAfter                               time.Duration
}

// Store is what the notifier needs of the store.
type Store interface {
	Commit(ctx context.Context, w store.Writes) error
	ListNotifications(ctx context.Context, status store.NotificationStatus) ([]store.Notification, error)
	ListExecutions(ctx context.Context, f store.ExecutionFilter) ([]store.Execution, error)
}

// Engine is what the notifier needs of the engine: the schedules' policies
// and a call of a handler's method (a handler target).
type Engine interface {
	GetSchedule(ctx context.Context, id string) (store.Schedule, error)
	// SchedulePage returns up to limit schedules by id after after, and
	// whether more follow.
	SchedulePage(ctx context.Context, after string, limit int) ([]store.Schedule, bool, error)
	// PolicyPage returns the non-zero policies among the next limit
	// schedules by id after after, and where to continue ("" at the end),
	// copying no record.
	PolicyPage(ctx context.Context, after string, limit int) (map[string]store.Policy, string, error)
	Call(ctx context.Context, handler, method string, params json.RawMessage) error
}

// Options configure a Notifier; zero fields take the defaults given.
type Options struct {
	Store    Store  // required
	Engine   Engine // required
	Defaults Defaults
	// Secret signs webhooks (HMAC-SHA256 of the body, SignatureHeader);
	// empty: unsigned.
	Secret []byte
	Client *http.Client // default: a client with a 10s timeout
	Logger *slog.Logger // default: discard
	// NowFunc is the clock; default time.Now.
	NowFunc func() time.Time
	// Inbox bounds the events waiting for the notifier (default 4096): a
	// full inbox drops the event, logs it and counts it (Dropped), never
	// blocking the engine.
	Inbox int
	// Queue bounds the notifications waiting for delivery (default 10000);
	// past it a new one is recorded failed.
	Queue int
	// Attempts is how many deliveries a notification gets before it is
	// recorded failed (default 20); Backoff (default 1s) doubles per
	// attempt up to BackoffMax (default 5m).
	Attempts            int
	Backoff, BackoffMax time.Duration
	// Workers deliver in parallel (default 4).
	Workers int
	// CheckEvery is how often the dead man's switches are checked
	// (default 1m).
	CheckEvery time.Duration
	// Keep is how long sent and failed notifications stay recorded
	// (default 7 days).
	Keep time.Duration
	// OutcomeFunc, when set, is told of each delivery's outcome: the
	// event and "sent", "failed" or "retry" (metrics). It must be cheap.
	OutcomeFunc func(event, outcome string)
}

// Notifier turns engine events into durable, retried notifications. Create
// it with New, pass Observe to the engine, then Start it.
type Notifier struct {
	opts  Options
	log   *slog.Logger
	inbox *inbox
	batch []event.Event // the notifier goroutine's: the last events taken from inbox
	wake  chan struct{}

	dropped atomic.Int64

	mu      sync.Mutex
	queue   map[string]*item // pending deliveries by notification ID
	known   map[string]bool  // dedupe keys of recorded notifications
	waiters map[string][]chan store.Notification

	// The notifier goroutine's own state. own holds only the schedules
	// that name targets of their own, failing only those with a recovery
	// target, lastSuccess only those with a dead man's switch: a million
	// schedules without cost nothing here.
	own         map[string]targets
	scanned     bool                 // own is complete: the start-up scan is done
	scanAfter   string               // where the scan resumes
	scanPages   int                  // pages the scan read
	failing     map[string]bool      // schedule -> its last final attempt failed
	lastSuccess map[string]time.Time // schedule -> last success (or creation)
	release     func()               // returns the scan's garbage: debug.FreeOSMemory

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// item is one notification waiting for delivery.
type item struct {
	rec      store.Notification
	target   store.Target
	due      time.Time
	inFlight bool
	attempts int // the most deliveries it gets
}

// New returns a notifier; Observe buffers events until Start.
func New(opts Options) (*Notifier, error) {
	if opts.Store == nil || opts.Engine == nil {
		return nil, errors.New("notify: Store and Engine are required")
	}
	for _, t := range []struct{ name, v string }{
		{"on-failure", opts.Defaults.OnFailure}, {"on-missed", opts.Defaults.OnMissed},
		{"on-recovery", opts.Defaults.OnRecovery}, {"on-dead-man", opts.Defaults.OnDeadMan},
	} {
		if t.v != "" && t.v != store.TargetNone {
			if _, err := store.ParseTarget("--notify-"+t.name, t.v); err != nil {
				return nil, err
			}
		}
	}
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defD := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&opts.Inbox, 4096)
	def(&opts.Queue, 10000)
	def(&opts.Attempts, 20)
	def(&opts.Workers, 4)
	defD(&opts.Backoff, time.Second)
	defD(&opts.BackoffMax, 5*time.Minute)
	defD(&opts.CheckEvery, time.Minute)
	defD(&opts.Keep, 7*24*time.Hour)
	if opts.Client == nil {
		opts.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.NowFunc == nil {
		opts.NowFunc = time.Now
	}
	return &Notifier{
		opts: opts, log: opts.Logger,
		inbox: newInbox(opts.Inbox), wake: make(chan struct{}, 1),
		queue: map[string]*item{}, known: map[string]bool{}, waiters: map[string][]chan store.Notification{},
		own: map[string]targets{}, failing: map[string]bool{}, lastSuccess: map[string]time.Time{},
		release: debug.FreeOSMemory,
	}, nil
}

// Observe is an event observer: it keeps the events a notification may be
// for, without blocking.
func (n *Notifier) Observe(e event.Event) {
	switch {
	case e.ScheduleID == "":
		return // run-now calls (a handler target's too) have no schedule
	case e.Kind == event.ExecutionMissed, e.Kind == event.ExecutionFinished && e.Final,
		e.Kind == event.ScheduleCreated, e.Kind == event.ScheduleChanged, e.Kind == event.ScheduleDeleted:
	default:
		return
	}
	if !n.inbox.put(e) {
		if v := n.dropped.Add(1); v&(v-1) == 0 { // log at 1, 2, 4, 8...
			n.log.Warn("notification inbox full: event dropped", "kind", e.Kind, "schedule_id", e.ScheduleID,
				"execution_id", e.ExecutionID, "count", v)
		}
	}
}

// Dropped is how many events a full inbox dropped.
func (n *Notifier) Dropped() int64 { return n.dropped.Load() }

// Start loads what is still pending from the store, forgets records older
// than Keep, catches up with what a crash left unrecorded (catchup.go),
// and starts delivering and handling events until Stop.
func (n *Notifier) Start(ctx context.Context) error {
	all, err := n.opts.Store.ListNotifications(ctx, "")
	if err != nil {
		return err
	}
	now := n.opts.NowFunc()
	var old []string
	for _, rec := range all {
		if rec.Status != store.NotificationPending {
			if now.Sub(rec.CreatedAt) > n.opts.Keep {
				old = append(old, rec.ID)
				continue
			}
			n.known[dedupeKey(rec.ID)] = true
			continue
		}
		n.known[dedupeKey(rec.ID)] = true
		t, err := targetOf(rec)
		if err != nil {
			rec.Status, rec.Error = store.NotificationFailed, err.Error()
			if err := n.opts.Store.Commit(ctx, store.Writes{Notifications: []store.Notification{rec}}); err != nil {
				return err
			}
			continue
		}
		n.queue[rec.ID] = &item{rec: rec, target: t, due: now, attempts: n.opts.Attempts}
	}
	if len(old) > 0 {
		if err := n.opts.Store.Commit(ctx, store.Writes{DeleteNotifications: old}); err != nil {
			return err
		}
	}
	if len(n.queue) > 0 {
		n.log.Info("notifications pending from before the restart", "count", len(n.queue))
	}
	if len(all) > 0 {
		var newest time.Time
		for _, rec := range all {
			if rec.CreatedAt.After(newest) {
				newest = rec.CreatedAt
			}
		}
		n.catchUp(ctx, newest)
	}
	ctx, n.cancel = context.WithCancel(context.WithoutCancel(ctx))
	n.wg.Add(2)
	go func() { defer n.wg.Done(); n.run(ctx) }()
	go func() { defer n.wg.Done(); n.dispatch(ctx) }()
	return nil
}

// Stop ends the notifier's goroutines and waits for them: the events
// already observed are recorded, deliveries under way are cancelled and
// stay pending for the next start. Stop it after the engine. A notifier
// never started stops at once.
func (n *Notifier) Stop() {
	if n.cancel != nil {
		n.cancel()
	}
	n.wg.Wait()
}

// List returns the recorded notifications, oldest first; with a status,
// only those in it.
func (n *Notifier) List(ctx context.Context, status store.NotificationStatus) ([]store.Notification, error) {
	return n.opts.Store.ListNotifications(ctx, status)
}
