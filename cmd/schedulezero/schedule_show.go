package main

import (
	"strconv"

	"github.com/urfave/cli/v2"
)

func scheduleShowCommand() *cli.Command {
	return &cli.Command{Name: "show", Usage: "show one schedule", ArgsUsage: "ID", Action: scheduleShow}
}

func scheduleShow(c *cli.Context) error {
	id, err := oneArg(c, "schedule ID")
	if err != nil {
		return err
	}
	cl, err := newClient(c)
	if err != nil {
		return err
	}
	defer cl.Close()
	s, err := cl.Schedule(c.Context, id)
	if err != nil {
		return apiFailure(err)
	}
	if jsonOutput(c) {
		return printJSON(c.App.Writer, s)
	}
	or := func(v, def string) string {
		if v == "" {
			return def
		}
		return v
	}
	attempts := "default"
	if s.MaxAttempts > 0 {
		attempts = strconv.Itoa(s.MaxAttempts)
	}
	st := state(s)
	if s.Paused && !s.PausedAt.IsZero() {
		st += " since " + fmtTime(s.PausedAt)
	}
	missed := strconv.FormatInt(s.MissedCount, 10)
	if s.MissedCount > 0 {
		missed += " (see: schedulezero history --schedule " + s.ID + " --status missed)"
	}
	rows := [][]string{
		{"id", s.ID}, {"handler", s.HandlerID}, {"method", s.Method}, {"params", compact(s.Params)},
		{"trigger", compact(s.Trigger)}, {"timezone", or(s.Timezone, "scheduler's")}, {"state", st},
		{"max attempts", attempts}, {"timeout", or(s.Timeout, "default")},
	}
	if s.Source != "" {
		rows = append(rows, []string{"source", s.Source + " (edit the file; schedulezero schedule detach " + s.ID + " hands it to the API)"})
	}
	rows = append(rows, describePolicy(s.Policy)...)
	rows = append(rows, [][]string{
		{"next fire", fmtTime(s.NextFire)}, {"last fire", fmtTime(s.LastFire)}, {"fires", strconv.FormatInt(s.FireCount, 10)},
		{"missed", missed}, {"created", fmtTime(s.CreatedAt)}, {"updated", fmtTime(s.UpdatedAt)},
	}...)
	return table(c.App.Writer, []string{"FIELD", "VALUE"}, rows)
}
