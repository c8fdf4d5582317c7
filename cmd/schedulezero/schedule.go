package main

import "github.com/urfave/cli/v2"

func scheduleCommand() *cli.Command {
	return &cli.Command{
		Name:  "schedule",
		Usage: "add, list, show, remove, pause, resume or run schedules",
		Subcommands: []*cli.Command{
			scheduleAddCommand(), scheduleListCommand(), scheduleShowCommand(), scheduleRmCommand(),
			schedulePauseCommand(), scheduleResumeCommand(), scheduleRunCommand(),
		},
	}
}
