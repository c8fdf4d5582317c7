package main

import "github.com/urfave/cli/v2"

func scheduleCommand() *cli.Command {
	return &cli.Command{
		Name:  "schedule",
		Usage: "add, edit, list, show, remove, pause, resume, run or backfill schedules",
		Subcommands: []*cli.Command{
			scheduleAddCommand(), scheduleListCommand(), scheduleShowCommand(), scheduleRmCommand(),
			scheduleEditCommand(), schedulePauseCommand(), scheduleResumeCommand(), scheduleRunCommand(), scheduleBackfillCommand(), scheduleExportCommand(), scheduleDetachCommand(),
		},
	}
}
