package schedulerd

// The daemon's life after New: Start, the health and reload hooks systemd
// drives, and Stop, in that order.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/schedulezero/schedulezero/pkg/wallclock"
)

// Start recovers unfinished executions, starts firing and serving, and tells
// systemd READY=1.
func (d *Daemon) Start(ctx context.Context) error {
	if err := d.engine.Start(ctx); err != nil {
		return err
	}
	if err := d.notify.Start(ctx); err != nil {
		return fmt.Errorf("notifications: %w", err)
	}
	d.applyFiles(ctx)
	sctx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	d.serveWG.Add(2 + len(d.lns))
	go func() {
		defer d.serveWG.Done()
		if err := d.wire.Serve(sctx); err != nil && sctx.Err() == nil {
			d.logger.Error("registration server stopped", "err", err)
		}
	}()
	for _, ln := range d.lns {
		go func() {
			defer d.serveWG.Done()
			if err := d.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				d.logger.Error("api server stopped", "address", ln.Addr().String(), "err", err)
			}
		}()
	}
	go func() {
		defer d.serveWG.Done()
		d.status(sctx)
	}()
	d.serveWG.Add(2)
	go func() {
		defer d.serveWG.Done()
		_ = d.opts.Notifier.RunWatchdog(sctx, d.Health)
	}()
	go func() {
		defer d.serveWG.Done()
		err := wallclock.Watch(sctx, func() {
			d.logger.Warn("the wall clock was set; re-reading it")
			d.engine.Nudge()
		})
		if err != nil {
			d.logger.Warn("wall clock changes will be noticed only at the next timer", "err", err)
		}
	}()
	_ = d.opts.Notifier.Ready()
	d.logger.Info("scheduler ready", "db", d.db.Path(), "zmq", d.wire.Addr(), "api", fmt.Sprint(d.HTTPAddrs()))
	// Start-up leaves garbage behind it (the load's, then that of starting
	// the servers), and a collection sized by the heap it left could be a
	// long time coming on an idle scheduler: until then the pages stay
	// resident. Collect and return them once, after READY=1, so that
	// READY does not wait for it.
	d.mem.update(d.engine.Len())
	debug.FreeOSMemory()
	return nil
}

// status keeps systemd's STATUS= line current.
func (d *Daemon) status(ctx context.Context) {
	t := time.NewTicker(statusInterval)
	defer t.Stop()
	for {
		_ = d.opts.Notifier.Status("%s", d.statusLine())
		select {
		case <-t.C:
			d.retryFiles(ctx)
			d.mem.update(d.engine.Len())
		case <-ctx.Done():
			return
		}
	}
}

// Health passes while the engine loop turns and the store answers; the
// watchdog is fed only then.
func (d *Daemon) Health(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	return d.engine.Health(ctx)
}

// Reload re-applies what can change without a restart: the schedule
// files. systemd hears RELOADING=1 before and READY=1 after, with STATUS=
// saying what the files changed.
func (d *Daemon) Reload(ctx context.Context) error {
	_ = d.opts.Notifier.Reloading()
	d.logger.Info("reload requested", "summary", d.engine.Summary())
	d.applyFiles(ctx)
	_ = d.opts.Notifier.Status("%s", d.statusLine())
	_ = d.opts.Notifier.Ready()
	return nil
}

// Stall freezes the engine (fault injection for the watchdog test).
func (d *Daemon) Stall() { d.engine.Stall() }

// stopServing ends the serving goroutines of Start.
func (d *Daemon) stopServing() {
	if d.cancel != nil {
		d.cancel()
	}
}

// Stop says STOPPING=1, stops firing, lets running attempts finish within
// StopTimeout, and closes everything in the reverse order of New, all
// within StopTimeout plus CloseTimeout (or ctx's deadline, if sooner).
func (d *Daemon) Stop(ctx context.Context) error {
	d.stopOnce.Do(func() {
		ctx, cancel := context.WithTimeout(ctx, d.opts.StopTimeout+d.opts.CloseTimeout)
		defer cancel()
		if d.opts.Notifier != nil && !d.opts.member {
			_ = d.opts.Notifier.Stopping()
		}
		var errs []error
		for i := len(d.cleanups) - 1; i >= 0; i-- {
			c := d.cleanups[i]
			if err := c.fn(ctx); err != nil {
				errs = append(errs, fmt.Errorf("stop %s: %w", c.name, err))
			}
		}
		d.stopServing()
		served := make(chan struct{})
		go func() { d.serveWG.Wait(); close(served) }()
		select {
		case <-served:
		case <-ctx.Done():
			errs = append(errs, fmt.Errorf("stop: serving goroutines still running: %w", ctx.Err()))
		}
		d.stopErr = errors.Join(errs...)
	})
	return d.stopErr
}

// Run is the daemon's whole life: New, Start, serve until ctx is done
// (reloading on each value from reload, stalling on each from stall), Stop.
func Run(ctx context.Context, opts Options, reload, stall <-chan struct{}) error {
	if opts.Cluster != nil {
		return runCluster(ctx, opts, reload, stall)
	}
	d, err := New(ctx, opts)
	if err != nil {
		return err
	}
	if err := d.Start(ctx); err != nil {
		_ = d.Stop(context.Background())
		return err
	}
	for {
		select {
		case <-reload:
			_ = d.Reload(ctx)
		case <-stall:
			d.logger.Warn("fault injection: stalling the engine loop")
			d.Stall()
		case <-ctx.Done():
			d.logger.Info("stopping")
			return d.Stop(context.Background())
		}
	}
}
