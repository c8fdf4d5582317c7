package main

import (
	"context"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/schedulezero/schedulezero/pkg/api"
	"github.com/schedulezero/schedulezero/pkg/client"
	"github.com/schedulezero/schedulezero/pkg/store"
)

func scheduleListCommand() *cli.Command {
	return &cli.Command{Name: "list", Aliases: []string{"ls"}, Usage: "list schedules: next and last fire, last result, trigger, state (like systemctl list-timers)", Action: scheduleList}
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
	last, err := lastAttempts(c.Context, cl, list)
	if err != nil {
		return apiFailure(err)
	}
	now := appClock(c).now()
	rows := make([][]string, 0, len(list))
	for _, s := range list {
		st := state(s)
		if s.Source != "" {
			st += " (file)" // schedulezero schedule show names it
		}
		next := s.NextFire
		if s.Paused || s.Done { // it will not fire there
			next = time.Time{}
		}
		rows = append(rows, []string{s.ID, s.HandlerID + "." + s.Method, describeSchedule(s), fmtTime(next), fmtLeft(next, now),
			fmtTime(s.LastFire), attemptResult(last[s.ID]), st})
	}
	return table(c.App.Writer, []string{"ID", "JOB", "TRIGGER", "NEXT", "LEFT", "LAST", "LAST RESULT", "STATE"}, rows)
}

// lastAttempts finds the latest attempt of each schedule: one page of
// recent history, then one query per schedule that fired but is not in it.
func lastAttempts(ctx context.Context, cl *client.Client, list []api.Schedule) (map[string]store.Execution, error) {
	last := map[string]store.Execution{}
	if len(list) == 0 {
		return last, nil
	}
	recent, err := cl.Executions(ctx, client.ExecutionQuery{Limit: 1000}) // newest first
	if err != nil {
		return nil, err
	}
	for _, e := range recent {
		if _, ok := last[e.ScheduleID]; !ok && e.ScheduleID != "" {
			last[e.ScheduleID] = e
		}
	}
	for _, s := range list {
		if _, ok := last[s.ID]; ok || (s.FireCount == 0 && s.MissedCount == 0) {
			continue
		}
		recs, err := cl.Executions(ctx, client.ExecutionQuery{ScheduleID: s.ID, Limit: 1})
		if err != nil {
			return nil, err
		}
		if len(recs) > 0 {
			last[s.ID] = recs[0]
		}
	}
	return last, nil
}

// attemptResult is "success 2.0ms", "error 1.2s", "running", "missed" or "-".
func attemptResult(e store.Execution) string {
	switch {
	case e.ID == "":
		return "-"
	case e.Status.Finished() && e.Status != store.StatusMissed:
		return string(e.Status) + " " + fmtMillis(e.DurationMS)
	}
	return string(e.Status)
}

// describeSchedule is the trigger in human form, with the schedule's zone
// when it names one.
func describeSchedule(s api.Schedule) string {
	d := describeTrigger(s.Trigger)
	if s.Timezone != "" {
		d += " (" + s.Timezone + ")"
	}
	return d
}

// state is active, paused or done, with the handler's state when it
// cannot run the schedule's fires ("active, handler removed").
func state(s api.Schedule) string {
	st := "active"
	switch {
	case s.Done:
		return "done"
	case s.Paused:
		st = "paused"
	}
	if h := s.HandlerState; h != "" && h != "online" {
		st += ", handler " + h
	}
	return st
}
