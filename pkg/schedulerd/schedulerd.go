// Package schedulerd assembles the scheduler daemon: the bbolt store, the
// engine, the ZeroMQ registration server, the REST API and the systemd
// notifications, with one start order and one stop order.
//
// It exists apart from package scheduler so that the engine knows nothing of
// HTTP, signals or systemd, and so that tests can run the whole daemon in
// process through New, Run and the returned addresses.
package schedulerd

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/schedulezero/schedulezero/pkg/api"
	"github.com/schedulezero/schedulezero/pkg/cluster/clusterconf"
	"github.com/schedulezero/schedulezero/pkg/event"
	"github.com/schedulezero/schedulezero/pkg/listener"
	"github.com/schedulezero/schedulezero/pkg/metric"
	"github.com/schedulezero/schedulezero/pkg/notify"
	"github.com/schedulezero/schedulezero/pkg/scheduler"
	"github.com/schedulezero/schedulezero/pkg/sd"
	"github.com/schedulezero/schedulezero/pkg/store"
	"github.com/schedulezero/schedulezero/pkg/trigger"
	"github.com/schedulezero/schedulezero/pkg/web"
	"github.com/schedulezero/schedulezero/pkg/wire"
)

// Defaults for Options fields left zero.
const (
	DefaultZMQBind     = "tcp://127.0.0.1:4242"
	DefaultHTTPListen  = "127.0.0.1:8888"
	DefaultStopTimeout = 20 * time.Second
	// DefaultCloseTimeout is the 5 s the units leave systemd between
	// SZ_STOP_TIMEOUT and TimeoutStopSec (see pkg/unitgen).
	DefaultCloseTimeout = 5 * time.Second
	statusInterval      = 2 * time.Second
)

// Options configure the daemon. Zero values take the defaults above and
// those of package scheduler.
type Options struct {
	DBPath  string
	ZMQBind string
	// Curve makes the registration socket and the connections to handlers
	// CURVE servers (docs/security.md); nil: NULL.
	Curve *wire.CurveServerKeys
	// Insecure lets ZMQBind be a non-loopback TCP address without Curve.
	Insecure           bool
	HTTPListen         []string // "host:port" or "unix:/path"; socket-activated fds take precedence
	Location           *time.Location
	DefaultTimeout     time.Duration
	DefaultMaxAttempts int
	Retention          store.Retention
	Tokens             []string      // API bearer tokens; empty: no authentication
	CORSOrigins        []string      // origins whose web pages may call the API; empty: none
	StopTimeout        time.Duration // how long running attempts may finish on stop
	CloseTimeout       time.Duration // Stop's bound on top of StopTimeout, for closing the rest
	Logger             *slog.Logger
	Notifier           *sd.Notifier
	// LatenessFunc observes each fire's lateness (benchmarks).
	LatenessFunc func(time.Duration)
	// HandlerSecrets are the handlers' registration secrets
	// (wire.LoadHandlerSecrets); nil: handlers register without one.
	HandlerSecrets *wire.HandlerSecrets
	// ScheduleDirs is the search path of schedule files, highest
	// precedence first (schedfile.DefaultDirs for the packaged service),
	// applied at start and on every reload; empty: none.
	ScheduleDirs []string
	// MinInterval is the floor of a schedule's repetition (see
	// scheduler.Options); zero: trigger.DefaultMinInterval.
	MinInterval time.Duration
	// HTTP bounds what one API client can hold; zero fields take the
	// defaults of listener.HTTPLimits.
	HTTP listener.HTTPLimits
	// ZMQLimits bound what a peer may send on every ZeroMQ socket (the
	// registration server and the job connections); zero: the defaults.
	ZMQLimits wire.Limits
	// DisableMetrics leaves out GET /metrics and the counting behind it.
	DisableMetrics bool
	// Notify configures the notifications (notify.go).
	Notify NotifyOptions
	// Embed are handlers run inside the daemon (--embed): "dingaling",
	// "dingaling:NAME" or "exec:NAME" (handlerd.Embedded).
	Embed []string
	// HandlerConfigDir is where the config file NAME.json of an embedded
	// handler is; empty: where a handler process looks (handlerd.Path).
	HandlerConfigDir string
	// Getenv reads the environment for handlerd.Path; nil: os.Getenv.
	Getenv func(string) string
	// GovernorAPI is schedulezero-governor's API ("unix:/path", a socket
	// path or http://host:port) the dashboard shows the handlers' units
	// from and restarts them through; empty: none.
	GovernorAPI string
	// Cluster, when set, makes the daemon one member of a cluster on
	// etcd (--cluster; cluster.go): Run campaigns, and leads or stands by.
	Cluster *clusterconf.Options
	// MemoryBudget, when positive, keeps the Go runtime's soft memory
	// limit at MemoryBudget plus MemoryPerSchedule a schedule (memlimit.go):
	// under overload the collector runs sooner instead of the heap growing
	// (DefaultMemoryBudget; the command leaves it to GOMEMLIMIT when that is
	// set); 0: the runtime's limit is left alone.
	MemoryBudget int64

	replicator store.Replicator // the leader's term (cluster.go)
	member     bool             // run by cluster.go, which tells systemd STOPPING=1
}

// The engine is the REST API's backend; the API defines what it needs.
var _ api.Backend = (*scheduler.Scheduler)(nil)

// Daemon is a running scheduler.
type Daemon struct {
	opts    Options
	logger  *slog.Logger
	db      *store.DB
	engine  *scheduler.Scheduler
	metrics *metric.Scheduler // nil: DisableMetrics
	notify  *notify.Notifier
	wire    *wire.Server
	http    *http.Server
	lns     []net.Listener

	cleanups []cleanup // run in reverse on Stop
	stopOnce sync.Once
	stopErr  error
	serveWG  sync.WaitGroup
	cancel   context.CancelFunc
	mem      *memLimiter

	filesMu     sync.Mutex
	filesStatus string // the last schedfile.Summary
	applyMu     sync.Mutex
	filesRetry  bool // a file names a handler not registered yet
}

type cleanup struct {
	name string
	fn   func(context.Context) error
}

// New opens the store, loads the engine and binds every socket, so that when
// it returns the daemon can do its job; nothing is served until Start.
func New(ctx context.Context, opts Options) (_ *Daemon, err error) {
	if opts.DBPath == "" {
		return nil, errors.New("schedulerd: the database path is required (--db)")
	}
	if opts.ZMQBind == "" {
		opts.ZMQBind = DefaultZMQBind
	}
	if len(opts.HTTPListen) == 0 {
		opts.HTTPListen = []string{DefaultHTTPListen}
	}
	if opts.StopTimeout <= 0 {
		opts.StopTimeout = DefaultStopTimeout
	}
	if opts.CloseTimeout <= 0 {
		opts.CloseTimeout = DefaultCloseTimeout
	}
	if err := opts.ZMQLimits.Check(); err != nil {
		return nil, fmt.Errorf("schedulerd: %w", err)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Notifier == nil {
		opts.Notifier = sd.NewNotifier(opts.Logger)
	}
	d := &Daemon{opts: opts, logger: opts.Logger, mem: &memLimiter{budget: opts.MemoryBudget}}
	defer func() {
		if err != nil {
			_ = d.Stop(context.Background())
		}
	}()

	storeOpts := store.Options{Retention: opts.Retention, Logger: opts.Logger.With("component", "store"), Replicator: opts.replicator}
	var lateness func(string, time.Duration)
	if opts.LatenessFunc != nil {
		lateness = func(_ string, l time.Duration) { opts.LatenessFunc(l) }
	}
	var observers []event.Observer
	if !opts.DisableMetrics {
		d.metrics = metric.NewScheduler()
		storeOpts.CommitFunc = d.metrics.Commit
		observers = append(observers, d.metrics.Observe)
		lateness = func(handler string, l time.Duration) {
			d.metrics.Fire(handler, l)
			if opts.LatenessFunc != nil {
				opts.LatenessFunc(l)
			}
		}
	}
	d.db, err = store.Open(opts.DBPath, storeOpts)
	if err != nil {
		return nil, err
	}
	d.onStop("store", func(context.Context) error { return d.db.Close() })
	d.onStop("memory limit", func(context.Context) error { d.mem.restore(); return nil })
	if d.notify, err = d.newNotifier(); err != nil {
		return nil, err
	}
	// Stopped after the engine (cleanups run in reverse), so that it
	// records the notifications of the engine's last events too.
	d.onStop("notifications", func(context.Context) error { d.notify.Stop(); return nil })
	observers = append(observers, d.notify.Observe)

	locals, err := newEmbedded(opts)
	if err != nil {
		return nil, err
	}
	var onRecovery func(handler, answer string)
	if d.metrics != nil {
		onRecovery = d.metrics.Recovery
	}
	d.engine, err = scheduler.New(ctx, scheduler.Options{
		OnRecovery:         onRecovery,
		DialFunc:           locals.dial(scheduler.WireDial(opts.Logger.With("component", "wire"), opts.ZMQLimits, opts.Curve.Options()...)),
		Store:              d.db,
		Logger:             opts.Logger, // the engine names its own components
		Location:           opts.Location,
		DefaultTimeout:     opts.DefaultTimeout,
		DefaultMaxAttempts: opts.DefaultMaxAttempts,
		LatenessFunc:       lateness,
		EventObservers:     observers,
		EventRing:          eventRing(opts),
		HandlerSecrets:     opts.HandlerSecrets,
		MinInterval:        opts.MinInterval,
		WireLimits:         opts.ZMQLimits,
	})
	if err != nil {
		return nil, err
	}
	d.onStop("engine", func(ctx context.Context) error {
		sctx, cancel := context.WithTimeout(ctx, opts.StopTimeout)
		defer cancel()
		return d.engine.Stop(sctx)
	})

	// Embedded handlers stop before the engine, as handler processes do
	// before the scheduler under systemd: they report "stopping", finish
	// their jobs, whose replies the engine still records, and report
	// "offline", which the store keeps.
	d.onStop("embedded handlers", locals.stop)
	if err := locals.start(ctx, d.engine); err != nil {
		return nil, err
	}

	reg := wire.Registry(d.engine.Registry())
	if len(locals) > 0 {
		reg = guard{Registry: reg, embedded: locals}
	}
	if err := checkZMQExposure(opts); err != nil {
		return nil, err
	}
	d.wire, err = wire.Listen(ctx, opts.ZMQBind, reg, opts.Logger.With("component", "wire"),
		append(opts.Curve.Options(), wire.WithLimits(opts.ZMQLimits))...)
	if err != nil {
		return nil, fmt.Errorf("registration server: %w", err)
	}
	d.onStop("registration server", func(context.Context) error {
		d.stopServing() // Serve returns before its socket closes
		return d.wire.Close()
	})

	lns, err := listener.Listen(opts.HTTPListen)
	if err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	d.lns = opts.HTTP.Limit(lns)
	warnOpenTCP(opts.Logger.With("component", "api"), d.lns, len(opts.Tokens))
	gov, err := d.dashboardGovernor(opts.GovernorAPI)
	if err != nil {
		return nil, err
	}
	apiOpts := api.Options{
		Backend:     d.engine,
		Logger:      opts.Logger.With("component", "api"),
		Tokens:      opts.Tokens,
		CORSOrigins: opts.CORSOrigins,
		Config:      d.config(),
		Events:      d.engine.Events(),
		UI: web.New(web.Options{Backend: d.engine, Events: d.engine.Events(), Tokens: opts.Tokens, Location: opts.Location,
			Logger: opts.Logger.With("component", "dashboard"), Governor: gov}),
	}
	if d.metrics != nil {
		apiOpts.Metrics = d.metrics.Handler(metricSource{d.engine}, d.db.Path())
	}
	apiOpts.Notifications = d.notify
	d.http = opts.HTTP.Server(api.New(apiOpts))
	// Requests' contexts end when the server shuts down, so that event
	// streams, which never go idle, do not hold Shutdown to its deadline.
	base, cancelBase := context.WithCancel(context.Background())
	d.http.BaseContext = func(net.Listener) context.Context { return base }
	d.http.RegisterOnShutdown(cancelBase)
	d.onStop("api", func(ctx context.Context) error {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		err := d.http.Shutdown(sctx)
		for _, ln := range d.lns {
			_ = ln.Close()
		}
		return err
	})
	return d, nil
}

// config is the effective configuration GET /api/config shows: the values
// in force after defaults, and of the secrets only how many there are.
func (d *Daemon) config() map[string]any {
	o := d.opts
	loc := o.Location
	if loc == nil {
		loc = time.Local
	}
	return map[string]any{
		"db":                   o.DBPath,
		"zmq_bind":             o.ZMQBind,
		"http_listen":          o.HTTPListen,
		"timezone":             loc.String(),
		"default_timeout":      cmp.Or(o.DefaultTimeout, scheduler.DefaultTimeout).String(),
		"default_max_attempts": cmp.Or(o.DefaultMaxAttempts, scheduler.DefaultMaxAttempts),
		"retention_count":      o.Retention.MaxCount,
		"retention_age":        o.Retention.MaxAge.String(),
		"stop_timeout":         o.StopTimeout.String(),
		"min_interval":         cmp.Or(o.MinInterval, trigger.DefaultMinInterval).String(),
		"handler_secrets":      o.HandlerSecrets != nil,
		"cors_origins":         nonNil(o.CORSOrigins),
		"api_authentication":   len(o.Tokens) > 0,
		"metrics":              !o.DisableMetrics,
		"schedule_dirs":        nonNil(o.ScheduleDirs),
		"embed":                nonNil(o.Embed),
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (d *Daemon) onStop(name string, fn func(context.Context) error) {
	d.cleanups = append(d.cleanups, cleanup{name, fn})
}

// ZMQAddr is the bound registration endpoint (the real port when 0 was asked).
func (d *Daemon) ZMQAddr() string { return d.wire.Addr() }

// HTTPAddrs are the API's listening addresses.
func (d *Daemon) HTTPAddrs() []net.Addr {
	out := make([]net.Addr, len(d.lns))
	for i, ln := range d.lns {
		out[i] = ln.Addr()
	}
	return out
}
