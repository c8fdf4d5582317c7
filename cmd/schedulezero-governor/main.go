// Command schedulezero-governor keeps the handlers running and healthy:
// systemd units over D-Bus, or child processes where there is no systemd.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/schedulezero/schedulezero/pkg/governord"
	"github.com/schedulezero/schedulezero/pkg/sd"
	"github.com/urfave/cli/v2"
)

func main() { os.Exit(run(os.Args)) }

func run(args []string) int {
	app := &cli.App{Name: "schedulezero-governor", Usage: "start, watch and restart ScheduleZero handlers", Flags: flags(),
		ExitErrHandler: func(*cli.Context, error) {}, // run decides the exit code
		Action: func(c *cli.Context) error {
			logger, err := sd.NewLogger(os.Stderr, c.String("log-level"))
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(c.Context, syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT)
			defer stop()
			return governord.Run(ctx, options(c, logger))
		}}
	if err := app.RunContext(context.Background(), args); err != nil {
		fmt.Fprintln(os.Stderr, "schedulezero-governor:", err)
		return 1
	}
	return 0
}
