// Command schedulezero-handler serves one handler instance
// (schedulezero-handler@NAME): the dingaling demo or commands (exec kind),
// configured by the JSON file named after the instance.
package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/schedulezero/schedulezero/pkg/handler/config"
	"github.com/urfave/cli/v2"
)

// newLogger is the seam for the journald handler of pkg/sd.
func newLogger() *slog.Logger { return slog.New(slog.NewTextHandler(os.Stderr, nil)) }

func main() { os.Exit(run(os.Args)) }

func run(args []string) int {
	logger := newLogger()
	app := &cli.App{
		Name:  "schedulezero-handler",
		Usage: "serve one ScheduleZero handler instance",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "name", Required: true, Usage: "handler id (the unit instance)", EnvVars: []string{"SZ_HANDLER_NAME"}},
			&cli.StringFlag{Name: "config", Usage: "config file (default: NAME.json in the config directory)", EnvVars: []string{"SZ_HANDLER_CONFIG"}},
			&cli.StringFlag{Name: "kind", Usage: "dingaling or exec", EnvVars: []string{"SZ_HANDLER_KIND"}},
			&cli.StringFlag{Name: "endpoint", Usage: "job socket to bind", EnvVars: []string{"SZ_HANDLER_ENDPOINT"}},
			&cli.StringFlag{Name: "scheduler", Usage: "scheduler registration endpoint", EnvVars: []string{"SZ_SCHEDULER"}},
			&cli.IntFlag{Name: "concurrency", Usage: "jobs run at once", EnvVars: []string{"SZ_HANDLER_CONCURRENCY"}},
		},
		Action: func(c *cli.Context) error {
			ctx, stop := signal.NotifyContext(c.Context, syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			return config.Run(ctx, config.Flags{Name: c.String("name"), ConfigPath: c.String("config"),
				Kind: c.String("kind"), Endpoint: c.String("endpoint"), Scheduler: c.String("scheduler"),
				Concurrency: c.Int("concurrency")}, logger, os.Getenv)
		},
	}
	if err := app.RunContext(context.Background(), args); err != nil {
		logger.Error("handler failed", "err", err)
		return 1
	}
	return 0
}
