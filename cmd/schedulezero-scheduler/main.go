// Command schedulezero-scheduler is the ScheduleZero scheduler daemon.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/schedulezero/schedulezero/pkg/api"
	"github.com/schedulezero/schedulezero/pkg/schedulerd"
	"github.com/schedulezero/schedulezero/pkg/sd"
	"github.com/schedulezero/schedulezero/pkg/store"
	"github.com/schedulezero/schedulezero/pkg/trigger"
	"github.com/schedulezero/schedulezero/pkg/version"
	"github.com/schedulezero/schedulezero/pkg/wire"
)

func main() { os.Exit(run(os.Args)) }

func run(args []string) int {
	app := &cli.App{
		Name:    "schedulezero-scheduler",
		Usage:   "fire schedules and dispatch jobs to handlers",
		Version: version.Version,
		Flags:   append(append(append(flags(), secretFlags()...), curveFlags()...), clusterFlags()...),
		Action:  serve,
	}
	if err := app.Run(args); err != nil {
		fmt.Fprintln(os.Stderr, "schedulezero-scheduler:", err)
		return 1
	}
	return 0
}

func defaultDB() string {
	if dir := os.Getenv("STATE_DIRECTORY"); dir != "" {
		return filepath.Join(filepath.SplitList(dir)[0], "schedulezero.db")
	}
	return "schedulezero.db"
}

func flags() []cli.Flag {
	return append([]cli.Flag{
		&cli.StringFlag{Name: "db", Value: defaultDB(), EnvVars: []string{"SZ_DB"}, Usage: "bbolt job store `FILE` (default: $STATE_DIRECTORY/schedulezero.db)"},
		&cli.StringFlag{Name: "zmq-bind", Value: schedulerd.DefaultZMQBind, EnvVars: []string{"SZ_ZMQ_BIND"}, Usage: "registration `ENDPOINT` (tcp:// or ipc://)"},
		&cli.Int64Flag{Name: "zmq-max-message-size", EnvVars: []string{"SZ_ZMQ_MAX_MESSAGE_SIZE"}, Usage: "largest ZeroMQ message, in `BYTES`, a handler may send; a larger one drops its connection (default 1114112: 1 MiB and 64 KiB)"},
		&cli.DurationFlag{Name: "zmq-handshake-timeout", EnvVars: []string{"SZ_ZMQ_HANDSHAKE_TIMEOUT"}, Usage: "drop a ZeroMQ connection whose handshake takes longer (default 5s)"},
		&cli.StringSliceFlag{Name: "http-listen", Value: cli.NewStringSlice(schedulerd.DefaultHTTPListen), EnvVars: []string{"SZ_HTTP_LISTEN"}, Usage: "REST API `ADDR` (host:port or unix:/path); repeat or comma-separate"},
		&cli.StringFlag{Name: "timezone", EnvVars: []string{"SZ_TIMEZONE"}, Usage: "IANA `ZONE` of schedules that name none (default: the host's)"},
		&cli.DurationFlag{Name: "default-timeout", EnvVars: []string{"SZ_DEFAULT_TIMEOUT"}, Usage: "per-attempt timeout of schedules that set none (default 60s)"},
		&cli.IntFlag{Name: "default-max-attempts", EnvVars: []string{"SZ_DEFAULT_MAX_ATTEMPTS"}, Usage: "attempts of schedules that set none (default 3)"},
		&cli.IntFlag{Name: "retention-count", Value: 100000, EnvVars: []string{"SZ_RETENTION_COUNT"}, Usage: "keep at most `N` execution records (0: no limit)"},
		&cli.DurationFlag{Name: "retention-age", Value: 30 * 24 * time.Hour, EnvVars: []string{"SZ_RETENTION_AGE"}, Usage: "drop execution records older than this (0: no limit)"},
		&cli.DurationFlag{Name: "min-interval", Value: trigger.DefaultMinInterval, EnvVars: []string{"SZ_MIN_INTERVAL"}, Usage: "refuse schedules that repeat more often than this (docs/scheduling.md)"},
		&cli.DurationFlag{Name: "stop-timeout", Value: schedulerd.DefaultStopTimeout, EnvVars: []string{"SZ_STOP_TIMEOUT"}, Usage: "how long running attempts may finish on stop"},
		&cli.StringFlag{Name: "api-token-file", EnvVars: []string{"SZ_API_TOKEN_FILE"}, Usage: "bearer tokens, one a line (default: $CREDENTIALS_DIRECTORY/api-token when present)"},
		&cli.StringSliceFlag{Name: "cors-origin", EnvVars: []string{"SZ_CORS_ORIGIN"}, Usage: "`ORIGIN` (https://host[:port]) whose web pages may call the API; repeat or comma-separate (default: none)"},
		&cli.BoolFlag{Name: "metrics", Value: true, EnvVars: []string{"SZ_METRICS"}, Usage: "serve GET /metrics (Prometheus) on the API listener, behind the API token (docs/metrics.md); --metrics=false leaves it out"},
		&cli.StringSliceFlag{Name: "schedules-dir", EnvVars: []string{"SZ_SCHEDULES_DIR"}, Usage: "`DIR` of schedule files (NAME.schedule), applied at start and on reload; repeat or comma-separate, highest precedence first (the packaged unit: /etc/schedulezero/schedules.d,/usr/lib/schedulezero/schedules.d; default: none)"},
		&cli.StringSliceFlag{Name: "embed", EnvVars: []string{"SZ_EMBED"}, Usage: "run handler `KIND[:NAME]` inside the scheduler: dingaling, dingaling:NAME or exec:NAME; repeat or comma-separate (docs/handlers.md)"},
		&cli.StringFlag{Name: "handler-config-dir", EnvVars: []string{"SZ_HANDLER_CONFIG_DIR"}, Usage: "`DIR` of the embedded handlers' config files NAME.json (default: $CONFIGURATION_DIRECTORY/handlers, else /etc/schedulezero/handlers)"},
		&cli.StringFlag{Name: "governor-api", EnvVars: []string{"SZ_GOVERNOR_API"}, Usage: "schedulezero-governor's API `ADDR` (unix:/run/schedulezero/governor.sock, a socket path or http://host:port): the dashboard's Handlers page shows the units and restarts them (default: none)"},
		memoryFlag(),
		&cli.StringFlag{Name: "log-level", Value: "info", EnvVars: []string{"SZ_LOG_LEVEL"}, Usage: "debug, info, warn or error"},
		&cli.BoolFlag{Name: "fault-injection", EnvVars: []string{"SZ_FAULT_INJECTION"}, Usage: "let SIGUSR2 stall the engine loop (watchdog tests only)"},
	}, notifyFlags()...)
}

func serve(c *cli.Context) error {
	if err := handOffCluster(c); err != nil {
		return err
	}
	logger, err := sd.NewLogger(os.Stderr, c.String("log-level"))
	if err != nil {
		return err
	}
	loc := time.Local
	if z := c.String("timezone"); z != "" {
		if loc, err = time.LoadLocation(z); err != nil {
			return fmt.Errorf("--timezone %q: %w", z, err)
		}
	}
	if c.Duration("min-interval") <= 0 {
		return fmt.Errorf("--min-interval %s: must be positive (the default is %s)", c.Duration("min-interval"), trigger.DefaultMinInterval)
	}
	tokens, err := api.LoadTokens(c.String("api-token-file"))
	if err != nil {
		return err
	}
	origins, err := api.ParseOrigins(c.StringSlice("cors-origin"))
	if err != nil {
		return fmt.Errorf("--cors-origin: %w", err)
	}
	curveKeys, err := loadCurve(c)
	if err != nil {
		return err
	}
	secrets, err := loadHandlerSecrets(c, logger)
	if err != nil {
		return err
	}
	notifyOpts, err := notifyOptions(c)
	if err != nil {
		return err
	}
	clusterOpts, err := clusterOptions(c)
	if err != nil {
		return err
	}
	memBudget, err := memoryBudget(c.Int64("memory-budget"), c.StringSlice("embed"), os.Getenv)
	if err != nil {
		return err
	}
	if p := gcPercent(c.StringSlice("embed"), os.Getenv); p >= 0 {
		debug.SetGCPercent(p)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return schedulerd.Run(ctx, schedulerd.Options{
		DBPath:             c.String("db"),
		ZMQBind:            c.String("zmq-bind"),
		Curve:              curveKeys,
		Insecure:           c.Bool("insecure"),
		HTTPListen:         c.StringSlice("http-listen"),
		Location:           loc,
		DefaultTimeout:     c.Duration("default-timeout"),
		DefaultMaxAttempts: c.Int("default-max-attempts"),
		Retention:          store.Retention{MaxCount: c.Int("retention-count"), MaxAge: c.Duration("retention-age")},
		Tokens:             tokens,
		CORSOrigins:        origins,
		StopTimeout:        c.Duration("stop-timeout"),
		Logger:             logger,
		HandlerSecrets:     secrets,
		ScheduleDirs:       c.StringSlice("schedules-dir"),
		MinInterval:        c.Duration("min-interval"),
		ZMQLimits:          wire.Limits{MaxMessageSize: c.Int64("zmq-max-message-size"), HandshakeTimeout: c.Duration("zmq-handshake-timeout")},
		DisableMetrics:     !c.Bool("metrics"),
		Notify:             notifyOpts,
		Embed:              c.StringSlice("embed"),
		HandlerConfigDir:   c.String("handler-config-dir"),
		GovernorAPI:        c.String("governor-api"),
		Cluster:            clusterOpts,
		MemoryBudget:       memBudget,
	}, notifyChan(syscall.SIGHUP, true), notifyChan(syscall.SIGUSR2, c.Bool("fault-injection")))
}

// notifyChan turns a signal into a channel of events (nil when disabled).
func notifyChan(sig os.Signal, enabled bool) <-chan struct{} {
	if !enabled {
		return nil
	}
	in := make(chan os.Signal, 1)
	signal.Notify(in, sig)
	out := make(chan struct{})
	go func() {
		for range in {
			out <- struct{}{}
		}
	}()
	return out
}
