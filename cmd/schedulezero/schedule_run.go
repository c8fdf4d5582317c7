package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/schedulezero/schedulezero/pkg/api"
)

func scheduleRunCommand() *cli.Command {
	return &cli.Command{
		Name:      "run",
		Usage:     "fire a schedule now, outside its trigger (does not wait); the overlap policy applies unless --force",
		ArgsUsage: "ID",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "force", Usage: "run even if the previous run still runs, whatever the overlap policy says"},
		},
		Action: scheduleRun,
	}
}

func scheduleRun(c *cli.Context) error {
	id, err := oneArg(c, "schedule ID")
	if err != nil {
		return err
	}
	cl, err := newClient(c)
	if err != nil {
		return err
	}
	defer cl.Close()
	t, err := cl.RunSchedule(c.Context, id, c.Bool("force"))
	if err != nil {
		return apiFailure(err)
	}
	if jsonOutput(c) {
		return printJSON(c.App.Writer, t)
	}
	switch t.Outcome {
	case api.OutcomeSkipped:
		_, err = fmt.Fprintf(c.App.Writer, "skipped %s: %s (recorded missed: %s)\n", escapeText(id), escapeText(t.Reason), escapeText(t.ExecutionID))
	case api.OutcomeQueued:
		_, err = fmt.Fprintf(c.App.Writer, "queued %s: %s; --force runs it now\n", escapeText(id), escapeText(t.Reason))
	default:
		_, err = fmt.Fprintf(c.App.Writer, "fired %s: execution %s (see: schedulezero history show %s)\n", escapeText(id), escapeText(t.ExecutionID), shellQuote(t.ExecutionID))
	}
	return err
}
