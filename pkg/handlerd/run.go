package handlerd

// The handler daemon's life: serve until ctx is done, with READY=1,
// STATUS= and STOPPING=1 for systemd.

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/schedulezero/schedulezero/pkg/handler"
	"github.com/schedulezero/schedulezero/pkg/sd"
)

// StatusInterval is how often the STATUS= line is refreshed under systemd.
const StatusInterval = 2 * time.Second

// Run serves handler fl.Name until ctx is done and speaks to systemd
// through n (nil: sd.NewNotifier, a no-op outside systemd):
//
//   - READY=1 once the job socket is bound and the scheduler accepted the
//     registration, so `systemctl start` returns when jobs can arrive;
//   - STATUS= with the registration and job counts, refreshed every
//     StatusInterval when it changed;
//   - WATCHDOG=1 only while handler.Server.Health passes;
//   - STOPPING=1 first when ctx is done, then the drain of running jobs.
func Run(ctx context.Context, fl Flags, logger *slog.Logger, getenv func(string) string, n *sd.Notifier) error {
	mux, opts, err := Options(fl, logger, getenv)
	if err != nil {
		return err
	}
	if n == nil {
		n = sd.NewNotifier(logger)
	}
	var srv *handler.Server
	opts.ReadyFunc = func() {
		_ = n.Status("%s", srv.Status())
		if err := n.Ready(); err != nil {
			logger.Warn("READY=1 not sent", "err", err)
		}
	}
	srv, err = handler.NewServer(mux, opts)
	if err != nil {
		return err
	}

	serveCtx, stopServe := context.WithCancel(context.WithoutCancel(ctx))
	defer stopServe()
	bgCtx, stopBG := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		select {
		case <-srv.Started():
		case <-bgCtx.Done():
			return
		}
		if err := n.RunWatchdog(bgCtx, srv.Health); err != nil {
			logger.Warn("watchdog off", "err", err)
		}
	}()
	go func() {
		defer wg.Done()
		refreshStatus(bgCtx, n, srv)
	}()
	go func() {
		select {
		case <-ctx.Done():
			_ = n.Stopping()
		case <-serveCtx.Done():
		}
		stopServe()
	}()
	err = srv.Serve(serveCtx)
	stopBG()
	wg.Wait()
	return err
}

// refreshStatus sends srv's status line whenever it changed, every
// StatusInterval, until ctx is done.
func refreshStatus(ctx context.Context, n *sd.Notifier, srv *handler.Server) {
	if !n.Enabled() {
		return
	}
	t := time.NewTicker(StatusInterval)
	defer t.Stop()
	last := ""
	for {
		if s := srv.Status(); s != last {
			_ = n.Status("%s", s)
			last = s
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
