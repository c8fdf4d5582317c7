package main

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

func scheduleRmCommand() *cli.Command {
	return &cli.Command{Name: "rm", Aliases: []string{"remove", "delete"}, Usage: "remove a schedule", ArgsUsage: "ID", Action: scheduleRm}
}

func scheduleRm(c *cli.Context) error {
	id, err := oneArg(c, "schedule ID")
	if err != nil {
		return err
	}
	cl, err := newClient(c)
	if err != nil {
		return err
	}
	defer cl.Close()
	if err := cl.DeleteSchedule(c.Context, id); err != nil {
		return apiFailure(err)
	}
	if jsonOutput(c) {
		return printJSON(c.App.Writer, map[string]string{"status": "removed", "schedule_id": id})
	}
	_, err = fmt.Fprintf(c.App.Writer, "removed %s\n", escapeText(id))
	return err
}
