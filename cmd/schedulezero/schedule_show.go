package main

import (
	"cmp"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/schedulezero/schedulezero/pkg/api"
	"github.com/schedulezero/schedulezero/pkg/client"
	"github.com/schedulezero/schedulezero/pkg/store"
	"github.com/schedulezero/schedulezero/pkg/trigger"
)

func scheduleShowCommand() *cli.Command {
	return &cli.Command{
		Name: "show", Usage: "show one schedule, its next fires and its last runs", ArgsUsage: "ID",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "n", Value: 5, Usage: "how many next fires and last runs to list (0 to 100)"},
		},
		Action: scheduleShow,
	}
}

// showJSON is schedule show --json: the schedule and its last runs.
type showJSON struct {
	api.Schedule
	NextFires []time.Time       `json:"next_fires"`
	LastRuns  []store.Execution `json:"last_runs"`
}

func scheduleShow(c *cli.Context) error {
	id, err := oneArg(c, "schedule ID")
	if err != nil {
		return err
	}
	n := c.Int("n")
	if n < 0 || n > 100 {
		return usagef("schedule show: -n %d: must be between 0 and 100", n)
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
	var runs []store.Execution
	if n > 0 {
		if runs, err = cl.Executions(c.Context, client.ExecutionQuery{ScheduleID: id, Limit: n}); err != nil {
			return apiFailure(err)
		}
	}
	fires := nextFires(s, n)
	if jsonOutput(c) {
		return printJSON(c.App.Writer, showJSON{Schedule: s, NextFires: fires, LastRuns: runs})
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
		missed += " (see: schedulezero history --schedule " + shellQuote(s.ID) + " --status missed)"
	}
	now := appClock(c).now()
	rows := [][]string{
		{"id", s.ID}, {"handler", s.HandlerID}, {"method", s.Method}, {"params", compact(s.Params)},
		{"trigger", describeTrigger(s.Trigger)}, {"timezone", or(s.Timezone, "scheduler's")}, {"state", st},
		{"max attempts", attempts}, {"timeout", or(s.Timeout, "default")},
	}
	if s.Source != "" {
		rows = append(rows, []string{"source", s.Source + " (edit the file; schedulezero schedule detach " + s.ID + " hands it to the API)"})
	}
	rows = append(rows, describePolicy(s.Policy)...)
	rows = append(rows, [][]string{
		{"next fire", nextFireText(s, now)}, {"last fire", fmtTime(s.LastFire)},
		{"fires", strconv.FormatInt(s.FireCount, 10)},
		{"missed", missed}, {"created", fmtTime(s.CreatedAt)}, {"updated", fmtTime(s.UpdatedAt)},
	}...)
	w := c.App.Writer
	if err := table(w, []string{"FIELD", "VALUE"}, rows); err != nil || n == 0 {
		return err
	}
	fmt.Fprintln(w, "\nNEXT FIRES")
	return showRuns(w, fires, runs, now)
}

func showRuns(w io.Writer, fires []time.Time, runs []store.Execution, now time.Time) error {
	if len(fires) == 0 {
		fmt.Fprintln(w, "  none")
	}
	for _, t := range fires {
		fmt.Fprintf(w, "  %s  (%s)\n", fmtTime(t), fmtLeft(t, now))
	}
	fmt.Fprintln(w, "\nLAST RUNS (newest first; details: schedulezero history show EXECUTION)")
	if len(runs) == 0 {
		_, err := fmt.Fprintln(w, "  none yet")
		return err
	}
	rows := make([][]string, 0, len(runs))
	for _, e := range runs {
		rows = append(rows, []string{"  " + fmtTime(cmp.Or(e.StartedAt, e.ScheduledAt)), e.ID, attemptText(e), attemptResult(e), e.Error})
	}
	return table(w, []string{"  STARTED", "EXECUTION", "ATTEMPT", "RESULT", "ERROR"}, rows)
}

// nextFires lists up to n fire times from the schedule's next fire on, as
// its trigger computes them (random delays and offsets of the policy are
// drawn at fire time and not included).
func nextFires(s api.Schedule, n int) []time.Time {
	if s.NextFire.IsZero() || s.Done || s.Paused || n == 0 {
		return nil
	}
	loc := time.Local
	if s.Timezone != "" {
		if l, err := time.LoadLocation(s.Timezone); err == nil {
			loc = l
		}
	}
	fires := []time.Time{s.NextFire}
	trig, _, err := trigger.Parse(s.Trigger, s.NextFire, loc)
	if err != nil {
		return fires
	}
	for t, ok := trig.Next(s.NextFire); ok && len(fires) < n; t, ok = trig.Next(t) {
		fires = append(fires, t)
	}
	return fires
}

// attemptText is "2/3", or "-" for a missed occurrence (it never ran).
func attemptText(e store.Execution) string {
	if e.Status == store.StatusMissed {
		return "-"
	}
	if e.MaxAttempts > 0 {
		return fmt.Sprintf("%d/%d", e.Attempt, e.MaxAttempts)
	}
	return strconv.Itoa(e.Attempt)
}

func nextFireText(s api.Schedule, now time.Time) string {
	switch {
	case s.Paused:
		return "- (paused; schedulezero schedule resume " + shellQuote(s.ID) + ")"
	case s.NextFire.IsZero():
		return "-"
	}
	return fmtTime(s.NextFire) + " (" + fmtLeft(s.NextFire, now) + ")"
}
