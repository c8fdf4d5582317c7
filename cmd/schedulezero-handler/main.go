// Command schedulezero-handler serves one handler instance
// (schedulezero-handler@NAME): the dingaling demo or commands (exec kind),
// configured by the JSON file named after the instance. Under systemd it
// logs to the journal and speaks sd_notify (READY, STATUS, WATCHDOG,
// STOPPING); see handlerd.Run.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/schedulezero/schedulezero/pkg/handlerd"
	"github.com/schedulezero/schedulezero/pkg/sd"
	"github.com/schedulezero/schedulezero/pkg/version"
	"github.com/schedulezero/schedulezero/pkg/wire"
)

func main() {
	// GOGC in the environment still decides.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
	os.Exit(run(os.Args))
}

// defaultGCPercent is the handler's GOGC unless the environment sets one.
// A handler's live heap is small (the jobs in flight), so the collector's
// minimum goal, 4 MB at GOGC=100, is most of its memory: at 40 the goal is
// 1.6 MB and the handler 9.5 MB instead of 12 at a thousand jobs a second,
// for about 3% of throughput at saturation (docs/performance.md).
const defaultGCPercent = 40

func run(args []string) int {
	app := &cli.App{
		Name:           "schedulezero-handler",
		Usage:          "serve one ScheduleZero handler instance",
		Version:        version.Version,
		Flags:          flags(),
		ExitErrHandler: func(*cli.Context, error) {}, // run decides the exit code
		Action:         serve,
	}
	if err := app.RunContext(context.Background(), args); err != nil {
		fmt.Fprintln(os.Stderr, "schedulezero-handler:", err)
		return 1
	}
	return 0
}

func flags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "name", Required: true, Usage: "handler id (the unit instance)", EnvVars: []string{"SZ_HANDLER_NAME"}},
		&cli.StringFlag{Name: "config", Usage: "config file (default: NAME.json in the config directory)", EnvVars: []string{"SZ_HANDLER_CONFIG"}},
		&cli.StringFlag{Name: "kind", Usage: "dingaling or exec", EnvVars: []string{"SZ_HANDLER_KIND"}},
		&cli.StringFlag{Name: "endpoint", Usage: "job socket to bind (tcp://host:port or ipc:///path)", EnvVars: []string{"SZ_HANDLER_ENDPOINT"}},
		&cli.StringFlag{Name: "scheduler", Usage: "scheduler registration `ENDPOINT`; for a cluster of schedulers every member's, comma-separated: the handler registers with the leader, the one that answers", EnvVars: []string{"SZ_SCHEDULER"}},
		&cli.IntFlag{Name: "concurrency", Usage: "jobs run at once", EnvVars: []string{"SZ_HANDLER_CONCURRENCY"}},
		&cli.StringFlag{Name: "secret-file", Usage: "registration secret `FILE` (default: the config's secret_file, else $CREDENTIALS_DIRECTORY/handler-secret when present)", EnvVars: []string{"SZ_HANDLER_SECRET_FILE"}},
		&cli.Int64Flag{Name: "zmq-max-message-size", Usage: "largest ZeroMQ message, in `BYTES`, the scheduler may send (default: the config's zmq_max_message_size, else 1114112: 1 MiB and 64 KiB)", EnvVars: []string{"SZ_ZMQ_MAX_MESSAGE_SIZE"}},
		&cli.DurationFlag{Name: "zmq-handshake-timeout", Usage: "drop a ZeroMQ connection whose handshake takes longer (default: the config's zmq_handshake_timeout, else 5s)", EnvVars: []string{"SZ_ZMQ_HANDSHAKE_TIMEOUT"}},
		&cli.StringFlag{Name: "journal", Usage: "`DIR` of the journal that keeps a job from running twice (\"off\": none; default: the config's journal_dir, else $STATE_DIRECTORY/journal/NAME under systemd, else none)", EnvVars: []string{"SZ_HANDLER_JOURNAL"}},
		&cli.StringFlag{Name: "curve-secret-key-file", Usage: "this handler's CURVE secret key `FILE` (schedulezero keys generate; a relative name is a systemd credential); with --curve-server-key both sockets are CURVE clients of the scheduler", EnvVars: []string{"SZ_CURVE_SECRET_KEY_FILE"}},
		&cli.StringFlag{Name: "curve-server-key", Usage: "the scheduler's CURVE public `KEY` (40 characters of Z85, or a file holding it)", EnvVars: []string{"SZ_CURVE_SERVER_KEY"}},
		&cli.StringFlag{Name: "instance", Usage: "`ID` of this process among those serving the same name (a pool; default HOST:NAME, stable across restarts)", EnvVars: []string{"SZ_HANDLER_INSTANCE"}},
		&cli.StringSliceFlag{Name: "label", Usage: "`KEY=VALUE` label of this instance, which a schedule's --on matches (repeat for more)", EnvVars: []string{"SZ_HANDLER_LABELS"}},
		&cli.DurationFlag{Name: "ping-interval", Usage: "how often to ping the scheduler; three missed pings and it routes around this instance (default: the config's ping_interval, else 30s)", EnvVars: []string{"SZ_HANDLER_PING_INTERVAL"}},
		&cli.StringFlag{Name: "log-level", Value: "info", Usage: "debug, info, warn or error", EnvVars: []string{"SZ_LOG_LEVEL"}},
	}
}

func serve(c *cli.Context) error {
	logger, err := sd.NewLogger(os.Stderr, c.String("log-level"))
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(c.Context, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	return handlerd.Run(ctx, handlerd.Flags{Name: c.String("name"), ConfigPath: c.String("config"),
		Kind: c.String("kind"), Endpoint: c.String("endpoint"), Scheduler: c.String("scheduler"),
		Concurrency: c.Int("concurrency"), SecretFile: c.String("secret-file"), Journal: c.String("journal"),
		CurveSecretKeyFile: c.String("curve-secret-key-file"), CurveServerKey: c.String("curve-server-key"),
		Instance: c.String("instance"), Labels: c.StringSlice("label"), PingInterval: c.Duration("ping-interval"),
		ZMQLimits: wire.Limits{MaxMessageSize: c.Int64("zmq-max-message-size"), HandshakeTimeout: c.Duration("zmq-handshake-timeout")}}, logger, os.Getenv, sd.NewNotifier(logger))
}
