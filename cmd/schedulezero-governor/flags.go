package main

import (
	"log/slog"

	"github.com/schedulezero/schedulezero/pkg/governor"
	"github.com/schedulezero/schedulezero/pkg/governord"
	"github.com/urfave/cli/v2"
)

func flags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "backend", Value: governord.BackendAuto, Usage: "auto, systemd or process (auto: systemd when /run/systemd/system exists)", EnvVars: []string{"SZ_GOVERNOR_BACKEND"}},
		&cli.StringFlag{Name: "config-dir", Usage: "handler config files (default $CONFIGURATION_DIRECTORY/handlers or /etc/schedulezero/handlers)", EnvVars: []string{"SZ_HANDLER_CONFIG_DIR"}},
		&cli.StringFlag{Name: "handler-bin", Usage: "schedulezero-handler executable for the process backend", EnvVars: []string{"SZ_HANDLER_BIN"}},
		&cli.StringFlag{Name: "scheduler", Value: governor.DefaultScheduler, Usage: "scheduler ZeroMQ endpoint given to handlers", EnvVars: []string{"SZ_SCHEDULER"}},
		&cli.StringFlag{Name: "api-listen", Usage: "API unix socket (default $RUNTIME_DIRECTORY/governor.sock or ./governor.sock)", EnvVars: []string{"SZ_GOVERNOR_LISTEN"}},
		&cli.StringFlag{Name: "scheduler-api", Value: "unix:/run/schedulezero/api.sock", Usage: "scheduler REST API, read for its view of handlers and told of removed ones (empty: skip)", EnvVars: []string{"SZ_SCHEDULER_API"}},
		&cli.DurationFlag{Name: "check-interval", Value: governor.DefaultCheckInterval, Usage: "how often every handler is pinged", EnvVars: []string{"SZ_GOVERNOR_CHECK_INTERVAL"}},
		&cli.IntFlag{Name: "failed-checks", Value: governor.DefaultFailedChecks, Usage: "consecutive failed pings that make a handler hung", EnvVars: []string{"SZ_GOVERNOR_FAILED_CHECKS"}},
		&cli.DurationFlag{Name: "stop-timeout", Value: governor.DefaultStopTimeout, Usage: "SIGTERM to SIGKILL wait", EnvVars: []string{"SZ_GOVERNOR_STOP_TIMEOUT"}},
		&cli.StringFlag{Name: "deployment", Value: "default", Usage: "deployment name in metrics", EnvVars: []string{"SZ_DEPLOYMENT"}},
		&cli.StringFlag{Name: "log-level", Value: "info", Usage: "debug, info, warn or error", EnvVars: []string{"SZ_LOG_LEVEL"}},
	}
}

func options(c *cli.Context, logger *slog.Logger) governord.Options {
	return governord.Options{Backend: c.String("backend"), ConfigDir: c.String("config-dir"),
		HandlerBin: c.String("handler-bin"), Scheduler: c.String("scheduler"), APIListen: c.String("api-listen"),
		SchedulerAPI: c.String("scheduler-api"), CheckInterval: c.Duration("check-interval"),
		FailedChecks: c.Int("failed-checks"), StopTimeout: c.Duration("stop-timeout"),
		Deployment: c.String("deployment"), Logger: logger}
}
