package main

import (
	"context"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/schedulezero/schedulezero/pkg/api"
	"github.com/schedulezero/schedulezero/pkg/client"
)

func schedulePauseCommand() *cli.Command {
	return &cli.Command{Name: "pause", Usage: "stop a schedule from firing until resumed", ArgsUsage: "ID",
		Action: func(c *cli.Context) error { return setPaused(c, "paused", (*client.Client).PauseSchedule) }}
}

func scheduleResumeCommand() *cli.Command {
	return &cli.Command{Name: "resume", Usage: "let a paused schedule fire again", ArgsUsage: "ID",
		Action: func(c *cli.Context) error { return setPaused(c, "resumed", (*client.Client).ResumeSchedule) }}
}

func setPaused(c *cli.Context, verb string, op func(*client.Client, context.Context, string) (api.Schedule, error)) error {
	id, err := oneArg(c, "schedule ID")
	if err != nil {
		return err
	}
	cl, err := newClient(c)
	if err != nil {
		return err
	}
	defer cl.Close()
	s, err := op(cl, c.Context, id)
	if err != nil {
		return apiFailure(err)
	}
	if jsonOutput(c) {
		return printJSON(c.App.Writer, s)
	}
	_, err = fmt.Fprintf(c.App.Writer, "%s %s (next fire %s)\n", verb, escapeText(s.ID), fmtTime(s.NextFire))
	return err
}
