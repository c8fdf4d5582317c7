package sd

import (
	"context"
	"fmt"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

// RunWatchdog sends WATCHDOG=1 every WatchdogSec/2, but only while health
// returns nil. Each health call gets a context bounded by WatchdogSec/4 so
// a hung check counts as a failure rather than blocking the loop. A change
// between healthy and unhealthy is logged once. RunWatchdog returns nil when
// ctx is done, and immediately when the watchdog is not enabled for this
// process (no WATCHDOG_USEC, or WATCHDOG_PID names another process).
// health must return soon after its context is done: a check that ignores
// it leaves its goroutine behind at every tick.
func (n *Notifier) RunWatchdog(ctx context.Context, health func(context.Context) error) error {
	if n.wdErr != nil {
		return fmt.Errorf("watchdog: %w", n.wdErr)
	}
	if n.watchdog <= 0 || !n.Enabled() {
		return nil
	}
	interval := n.watchdog / 2
	checkTimeout := n.watchdog / 4
	n.logger.Debug("watchdog enabled", "watchdog_sec", n.watchdog, "ping_every", interval)
	healthy := true
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		err := n.check(ctx, health, checkTimeout)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil && healthy:
			healthy = false
			n.logger.Error("health check failed, watchdog pings stop", "err", err)
		case err == nil && !healthy:
			healthy = true
			n.logger.Info("health check passes again, watchdog pings resume")
		}
		if healthy {
			if err := n.send(daemon.SdNotifyWatchdog); err != nil {
				n.logger.Warn("watchdog ping", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

func (n *Notifier) check(ctx context.Context, health func(context.Context) error, timeout time.Duration) error {
	if health == nil {
		return nil
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- health(cctx) }()
	select {
	case err := <-done:
		return err
	case <-cctx.Done():
		return fmt.Errorf("health check: %w", cctx.Err())
	}
}
