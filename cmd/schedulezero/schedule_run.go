package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/schedulezero/schedulezero/pkg/api"
)

func scheduleRunCommand() *cli.Command {
	return &cli.Command{Name: "run", Usage: "fire a schedule now, outside its trigger (does not wait)", ArgsUsage: "ID", Action: scheduleRun}
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
	eid, err := cl.RunSchedule(c.Context, id)
	if err != nil {
		return apiFailure(err)
	}
	if jsonOutput(c) {
		return printJSON(c.App.Writer, api.Triggered{ScheduleID: id, ExecutionID: eid})
	}
	_, err = fmt.Fprintf(c.App.Writer, "fired %s: execution %s (see: schedulezero history --schedule %s)\n", id, eid, id)
	return err
}
