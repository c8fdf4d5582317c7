package main

import (
	"strconv"

	"github.com/urfave/cli/v2"

	"github.com/schedulezero/schedulezero/pkg/api"
)

func scheduleListCommand() *cli.Command {
	return &cli.Command{Name: "list", Aliases: []string{"ls"}, Usage: "list schedules", Action: scheduleList}
}

func scheduleList(c *cli.Context) error {
	cl, err := newClient(c)
	if err != nil {
		return err
	}
	defer cl.Close()
	list, err := cl.Schedules(c.Context)
	if err != nil {
		return apiFailure(err)
	}
	if jsonOutput(c) {
		return printJSON(c.App.Writer, api.ScheduleList{Schedules: list, Count: len(list)})
	}
	rows := make([][]string, 0, len(list))
	for _, s := range list {
		st := state(s)
		if s.Source != "" {
			st += " (file)" // schedulezero schedule show names it
		}
		rows = append(rows, []string{s.ID, s.HandlerID, s.Method, describeTrigger(s.Trigger), fmtTime(s.NextFire), st, strconv.FormatInt(s.FireCount, 10)})
	}
	return table(c.App.Writer, []string{"ID", "HANDLER", "METHOD", "TRIGGER", "NEXT FIRE", "STATE", "FIRES"}, rows)
}

func state(s api.Schedule) string {
	switch {
	case s.Done:
		return "done"
	case s.Paused:
		return "paused"
	}
	return "active"
}
