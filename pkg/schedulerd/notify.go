package schedulerd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/schedulezero/schedulezero/pkg/notify"
	"github.com/schedulezero/schedulezero/pkg/scheduler/schedtype"
	"github.com/schedulezero/schedulezero/pkg/store"
)

// NotifyOptions configure the scheduler's notifications
// (docs/notifications.md). The zero value sends none by default; a
// schedule's policy may still name targets.
type NotifyOptions struct {
	Defaults notify.Defaults
	// Secret signs the webhooks (--notify-secret-file).
	Secret []byte
	// Attempts, Backoff, BackoffMax and CheckEvery: see notify.Options;
	// zero: its defaults.
	Attempts            int
	Backoff, BackoffMax time.Duration
	CheckEvery          time.Duration
}

// notifyTimeout bounds one call of a handler target's method.
const notifyTimeout = 30 * time.Second

// notifyEngine shows the engine to the notifier; d.engine is read at each
// call, since the notifier is made before the engine it observes.
type notifyEngine struct{ d *Daemon }

func (e notifyEngine) GetSchedule(ctx context.Context, id string) (store.Schedule, error) {
	return e.d.engine.GetSchedule(ctx, id)
}

func (e notifyEngine) SchedulePage(ctx context.Context, after string, limit int) ([]store.Schedule, bool, error) {
	return e.d.engine.SchedulePage(ctx, after, limit)
}

func (e notifyEngine) PolicyPage(ctx context.Context, after string, limit int) (map[string]store.Policy, string, error) {
	return e.d.engine.PolicyPage(ctx, after, limit)
}

func (e notifyEngine) Call(ctx context.Context, handler, method string, params json.RawMessage) error {
	ctx, cancel := context.WithTimeout(ctx, notifyTimeout)
	defer cancel()
	ex, err := e.d.engine.RunNow(ctx, schedtype.RunRequest{HandlerID: handler, Method: method, Params: params, MaxAttempts: 1, Timeout: notifyTimeout})
	if err != nil {
		return err
	}
	if ex.Status != store.StatusSucceeded {
		return fmt.Errorf("execution %s: %s: %w", ex.ID, ex.Status, errors.New(ex.Error))
	}
	return nil
}

// newNotifier makes the daemon's notifier over its store.
func (d *Daemon) newNotifier() (*notify.Notifier, error) {
	o := d.opts.Notify
	opts := notify.Options{
		Store: d.db, Engine: notifyEngine{d}, Defaults: o.Defaults, Secret: o.Secret,
		Logger: d.logger.With("component", "notify"), Attempts: o.Attempts,
		Backoff: o.Backoff, BackoffMax: o.BackoffMax, CheckEvery: o.CheckEvery,
	}
	if d.metrics != nil {
		opts.OutcomeFunc = d.metrics.Notification
	}
	return notify.New(opts)
}
