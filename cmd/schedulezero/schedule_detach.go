package main

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/schedulezero/schedulezero/pkg/api"
)

func scheduleDetachCommand() *cli.Command {
	return &cli.Command{
		Name:      "detach",
		Usage:     "take a schedule from the file that manages it: the API edits and removes it from then on",
		ArgsUsage: "ID",
		Action:    scheduleDetach,
	}
}

func scheduleDetach(c *cli.Context) error {
	id, err := oneArg(c, "schedule ID")
	if err != nil {
		return err
	}
	cl, err := newClient(c)
	if err != nil {
		return err
	}
	defer cl.Close()
	before, err := cl.Schedule(c.Context, id)
	if err != nil {
		return apiFailure(err)
	}
	after, err := cl.DetachSchedule(c.Context, id)
	if err != nil {
		return apiFailure(err)
	}
	if jsonOutput(c) {
		return printJSON(c.App.Writer, after)
	}
	if before.Source == "" {
		_, err = fmt.Fprintf(c.App.Writer, "%s was not managed by a file\n", id)
		return err
	}
	file := strings.TrimPrefix(before.Source, api.SourceFilePrefix)
	_, err = fmt.Fprintf(c.App.Writer, "detached %s from %s; remove that file, or reloads report it as a conflict\n", id, file)
	return err
}
