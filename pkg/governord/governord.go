package governord

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/schedulezero/schedulezero/pkg/client"
	"github.com/schedulezero/schedulezero/pkg/field"
	"github.com/schedulezero/schedulezero/pkg/governor"
	"github.com/schedulezero/schedulezero/pkg/handlername"
	"github.com/schedulezero/schedulezero/pkg/listener"
	"github.com/schedulezero/schedulezero/pkg/sd"
	"github.com/schedulezero/schedulezero/pkg/unitctl"
)

// Backends.
const (
	BackendAuto    = "auto"
	BackendSystemd = "systemd"
	BackendProcess = "process"
)

// Options configure the daemon; zero values take the defaults below.
type Options struct {
	// Backend is auto, systemd or process; auto means systemd when
	// SystemdDir exists.
	Backend string
	// SystemdDir is the marker of a booted systemd; default
	// /run/systemd/system.
	SystemdDir string
	// ConfigDir holds the handlers' config files; default
	// $CONFIGURATION_DIRECTORY/handlers, else /etc/schedulezero/handlers.
	ConfigDir string
	// HandlerBin is the schedulezero-handler executable of the process
	// backend; default: next to the running executable, else on PATH.
	HandlerBin string
	// Scheduler is the ZeroMQ registration endpoint given to handlers.
	Scheduler string
	// APIListen is where the API listens ("unix:/path" or a path);
	// default $RUNTIME_DIRECTORY/governor.sock, else ./governor.sock.
	APIListen string
	// SchedulerAPI is the scheduler's REST API, read for its view of the
	// handlers ("" skips it).
	SchedulerAPI  string
	CheckInterval time.Duration
	FailedChecks  int
	StopTimeout   time.Duration
	Deployment    string
	Logger        *slog.Logger
	// Notifier speaks sd_notify; default sd.NewNotifier(Logger).
	Notifier *sd.Notifier
	// Units overrides the backend (tests).
	Units governor.UnitManager
	// Getenv reads the environment; default os.Getenv.
	Getenv func(string) string
}

// Daemon is a running schedulezero-governor.
type Daemon struct {
	opts    Options
	logger  *slog.Logger
	sup     *governor.Supervisor
	procs   *governor.ProcessManager // nil unless the process backend
	units   *unitctl.Manager         // nil unless the systemd backend
	sched   *client.Client
	ln      net.Listener
	srv     *http.Server
	backend string

	mu       sync.Mutex
	started  bool
	stopped  bool
	cleanups []cleanup // run LIFO by Stop
	wg       sync.WaitGroup
}

type cleanup struct {
	name string
	fn   func(context.Context) error
}

func (o *Options) setDefaults() error {
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Notifier == nil {
		o.Notifier = sd.NewNotifier(o.Logger)
	}
	if o.SystemdDir == "" {
		o.SystemdDir = "/run/systemd/system"
	}
	if o.Backend == "" {
		o.Backend = BackendAuto
	}
	switch o.Backend {
	case BackendAuto, BackendSystemd, BackendProcess:
	default:
		return field.Errorf("backend", "%q is not a backend", o.Backend).WithFix("use auto, systemd or process")
	}
	if o.ConfigDir == "" {
		o.ConfigDir = "/etc/schedulezero/handlers"
		if d := o.Getenv("CONFIGURATION_DIRECTORY"); d != "" {
			o.ConfigDir = filepath.Join(filepath.SplitList(d)[0], "handlers")
		}
	}
	if o.APIListen == "" {
		o.APIListen = "governor.sock"
		if d := o.Getenv("RUNTIME_DIRECTORY"); d != "" {
			o.APIListen = filepath.Join(filepath.SplitList(d)[0], "governor.sock")
		}
	}
	if o.CheckInterval < 0 {
		return field.Errorf("check-interval", "is negative").WithFix(`use a duration such as "5s"`)
	}
	if o.FailedChecks < 0 {
		return field.Errorf("failed-checks", "is negative").WithFix("use a positive number")
	}
	if o.StopTimeout <= 0 {
		o.StopTimeout = governor.DefaultStopTimeout
	}
	return nil
}

// New builds the daemon and binds its API socket; nothing runs until Start.
func New(opts Options) (*Daemon, error) {
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	d := &Daemon{opts: opts, logger: opts.Logger.With("component", "governord")}
	units, err := d.backendUnits()
	if err != nil {
		return nil, err
	}
	gopts := governor.Options{Units: units, Backend: d.backend, ConfigDir: opts.ConfigDir,
		Scheduler: opts.Scheduler, Deployment: opts.Deployment, CheckInterval: opts.CheckInterval,
		FailedChecks: opts.FailedChecks, StopTimeout: opts.StopTimeout,
		OwnsHandlers: d.backend == BackendProcess, Logger: opts.Logger}
	if d.backend == BackendSystemd {
		if rd := opts.Getenv("RUNTIME_DIRECTORY"); rd != "" {
			dir := filepath.SplitList(rd)[0]
			gopts.EndpointFunc = runtimeEndpoint(dir)
			gopts.ImplicitEndpoint = func(name string) string { return handlername.RuntimeEndpoint(dir, name) }
		}
	}
	if opts.SchedulerAPI != "" {
		c, err := client.New(opts.SchedulerAPI)
		if err != nil {
			return nil, field.Errorf("scheduler-api", "%v", err).WithFix("use unix:/run/schedulezero/api.sock or http://host:port")
		}
		d.sched = c
		gopts.SchedulerViewFunc = d.schedulerView
		gopts.SchedulerRemoveFunc = d.schedulerRemove
	}
	if d.sup, err = governor.New(gopts); err != nil {
		return nil, err
	}
	path, _ := cutUnix(opts.APIListen)
	lns, err := listener.Listen([]string{"unix:" + path})
	if err != nil {
		return nil, fmt.Errorf("api listen %s: %w", path, err)
	}
	var limits listener.HTTPLimits // the same bounds on clients as the scheduler's API
	d.ln = limits.Limit(lns[:1])[0]
	for _, l := range lns[1:] {
		l.Close() //nolint:errcheck // only one was asked for
	}
	d.srv = limits.Server(NewAPI(d.sup, opts.Logger))
	return d, nil
}

// maxSocketPath is what a unix socket path may hold (sun_path less NUL).
const maxSocketPath = 107

// schedulerRemove tells the scheduler that handler name was removed. A
// scheduler that never knew it has nothing to forget.
func (d *Daemon) schedulerRemove(ctx context.Context, name string) error {
	err := d.sched.RemoveHandler(ctx, name)
	if ae, ok := errors.AsType[*client.APIError](err); ok && ae.Status == http.StatusNotFound {
		return nil
	}
	return err
}

// schedulerView reads the scheduler's registry: handler id → status.
func (d *Daemon) schedulerView(ctx context.Context) (map[string]string, error) {
	hs, err := d.sched.Handlers(ctx)
	if err != nil {
		return nil, err
	}
	m := make(map[string]string, len(hs))
	for _, h := range hs {
		m[h.ID] = h.Status
	}
	return m, nil
}

// Addr is the API socket's path.
func (d *Daemon) Addr() string { return d.ln.Addr().String() }

// Backend is the chosen backend: systemd or process.
func (d *Daemon) Backend() string { return d.backend }

// Governor is the daemon's Supervisor.
func (d *Daemon) Governor() *governor.Supervisor { return d.sup }

func (d *Daemon) onStop(name string, fn func(context.Context) error) {
	d.cleanups = append(d.cleanups, cleanup{name, fn})
}

// Start starts the handlers and health checks, then serves the API.
func (d *Daemon) Start(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.started || d.stopped {
		return errors.New("governord: already started or stopped")
	}
	d.started = true
	if d.sched != nil {
		d.onStop("scheduler client", func(context.Context) error { d.sched.Close(); return nil })
	}
	if d.procs != nil {
		// Registered first, so it runs last: after the Supervisor stopped
		// every handler and its watch.
		d.onStop("handler processes", func(ctx context.Context) error { return d.procs.Close(ctx, d.opts.StopTimeout) })
	}
	if d.units != nil { // the units outlive the governor; only the bus connections close
		d.onStop("system bus", func(context.Context) error { return d.units.Close() })
	}
	d.onStop("supervisor", func(ctx context.Context) error { return d.sup.Stop(ctx, d.opts.StopTimeout) })
	if err := d.sup.Start(ctx); err != nil {
		d.logger.Warn("some handlers did not start", "err", err) // the loop keeps trying
	}
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		if err := d.srv.Serve(d.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.logger.Error("api server", "err", err)
		}
	}()
	d.onStop("api", func(ctx context.Context) error { return d.srv.Shutdown(ctx) })
	d.logger.Info("governor ready", "backend", d.backend, "api", d.Addr(), "config_dir", d.opts.ConfigDir)
	return nil
}

// Stop drains the named cleanups in reverse order within ctx; it is
// idempotent and works before Start.
func (d *Daemon) Stop(ctx context.Context) error {
	d.mu.Lock()
	if d.stopped {
		d.mu.Unlock()
		return nil
	}
	d.stopped = true
	cs := d.cleanups
	d.mu.Unlock()
	var errs []error
	if len(cs) == 0 { // never started
		if err := d.ln.Close(); err != nil {
			errs = append(errs, fmt.Errorf("api socket: %w", err))
		}
		if d.units != nil {
			d.units.Close() //nolint:errcheck // nothing was connected
		}
	}
	for i := len(cs) - 1; i >= 0; i-- {
		if err := cs[i].fn(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stop %s: %w", cs[i].name, err))
		}
	}
	d.wg.Wait()
	return errors.Join(errs...)
}

// Summary is the STATUS= line: "3 handlers, 3 healthy, 0 restarts".
func (d *Daemon) Summary(ctx context.Context) string {
	m, err := d.sup.Metrics(ctx)
	if err != nil {
		return "status unavailable: " + err.Error()
	}
	return fmt.Sprintf("%d handlers, %d healthy, %d restarts", m.TotalServices, m.HealthyServices, m.TotalRestarts)
}

// Health passes while the health loop turned within three intervals.
func (d *Daemon) Health(context.Context) error {
	if age := time.Since(d.sup.Heartbeat()); age > 3*d.sup.CheckInterval()+time.Second {
		return fmt.Errorf("health loop stalled for %v", age.Round(time.Millisecond))
	}
	return nil
}

// Run runs the daemon until ctx is done: READY=1 once the API serves,
// STATUS= every check interval, the watchdog fed while Health passes,
// STOPPING=1 and a bounded stop at the end.
func Run(ctx context.Context, opts Options) error {
	d, err := New(opts)
	if err != nil {
		return err
	}
	if err := d.Start(ctx); err != nil {
		return errors.Join(err, d.Stop(context.Background()))
	}
	n := d.opts.Notifier
	_ = n.Ready()
	var wg sync.WaitGroup
	wctx, cancel := context.WithCancel(ctx)
	wg.Go(func() { _ = n.RunWatchdog(wctx, d.Health) })
	wg.Go(func() {
		t := time.NewTicker(max(d.sup.CheckInterval(), time.Second))
		defer t.Stop()
		for {
			sctx, scancel := context.WithTimeout(wctx, 5*time.Second)
			_ = n.Status("%s", d.Summary(sctx))
			scancel()
			select {
			case <-wctx.Done():
				return
			case <-t.C:
			}
		}
	})
	<-ctx.Done()
	_ = n.Stopping()
	cancel()
	wg.Wait()
	d.logger.Info("governor stopping")
	sctx, scancel := context.WithTimeout(context.Background(), d.opts.StopTimeout+15*time.Second)
	defer scancel()
	return d.Stop(sctx)
}
