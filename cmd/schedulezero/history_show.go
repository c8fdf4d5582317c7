package main

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/schedulezero/schedulezero/pkg/api"
	"github.com/schedulezero/schedulezero/pkg/client"
	"github.com/schedulezero/schedulezero/pkg/store"
)

func historyShowCommand() *cli.Command {
	return &cli.Command{
		Name:      "show",
		Usage:     "every attempt of one execution (default: the latest, of --schedule if given): timing, status, reason, result, captured output, and where its logs are",
		ArgsUsage: "[EXECUTION_ID]",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "schedule", Usage: "without EXECUTION_ID: the latest execution of this schedule"},
		},
		Action: historyShow,
	}
}

// execResult is the part of a reply that the exec handler kind adds.
type execResult struct {
	ExitCode *int    `json:"exit_code"`
	Stdout   *string `json:"stdout"`
	Stderr   *string `json:"stderr"`
}

func historyShow(c *cli.Context) error {
	if c.NArg() > 1 {
		return usagef("history show: expected at most one EXECUTION_ID argument")
	}
	id := c.Args().First()
	if id != "" && c.IsSet("schedule") {
		return usagef("history show: give an EXECUTION_ID or --schedule, not both")
	}
	cl, err := newClient(c)
	if err != nil {
		return err
	}
	defer cl.Close()
	if id == "" {
		q := client.ExecutionQuery{ScheduleID: c.String("schedule"), Limit: 1}
		recs, err := cl.Executions(c.Context, q)
		if err != nil {
			return apiFailure(err)
		}
		if len(recs) == 0 {
			if err := knownFilters(c, cl, q); err != nil {
				return err
			}
			if q.ScheduleID != "" {
				return cli.Exit("history show: schedule "+shellQuote(q.ScheduleID)+" has no execution yet", exitNotFound)
			}
			return cli.Exit("history show: no execution recorded yet", exitNotFound)
		}
		id = recs[0].ID
	}
	attempts, err := cl.Execution(c.Context, id)
	if err != nil {
		return apiFailure(err)
	}
	if jsonOutput(c) {
		return printJSON(c.App.Writer, api.ExecutionAttempts{ExecutionID: id, Attempts: attempts})
	}
	w := c.App.Writer
	if len(attempts) > 0 {
		e := attempts[0]
		fmt.Fprintf(w, "execution %s: schedule %s, %s.%s, %d attempt(s)\n", escapeText(id), escapeText(e.ScheduleID), escapeText(e.HandlerID), escapeText(e.Method), len(attempts))
		if e.ParamsSummary != "" {
			fmt.Fprintf(w, "params:   %s\n", escapeText(e.ParamsSummary))
		}
	}
	for _, e := range attempts {
		fmt.Fprintf(w, "\nattempt %s: %s\n", attemptText(e), e.Status)
		rows := [][]string{}
		add := func(k, v string) {
			if v != "" && v != "-" {
				rows = append(rows, []string{"  " + k, v})
			}
		}
		add("scheduled", fmtTime(e.ScheduledAt))
		add("started", fmtTime(e.StartedAt))
		add("completed", fmtTime(e.CompletedAt))
		if e.Status.Finished() && !e.StartedAt.IsZero() {
			add("duration", fmtMillis(e.DurationMS))
		}
		add("instance", instanceText(e.Instance, e.Host)) // which process of a pool ran it
		add("reason", e.Error)
		add("note", e.Note) // "recovered from handler": the outcome came from its journal
		var xr execResult
		_ = json.Unmarshal(e.Result, &xr) // a result that is not an object has no exec fields
		if xr.ExitCode != nil {
			add("exit code", fmt.Sprint(*xr.ExitCode))
		}
		if len(e.Result) > 0 {
			add("result", compact(store.ResultWithoutOutput(e.Result)))
		}
		for _, r := range rows {
			fmt.Fprintf(w, "%-12s %s\n", r[0]+":", escapeText(r[1]))
		}
		for _, out := range []struct {
			name string
			text *string
		}{{"stdout", xr.Stdout}, {"stderr", xr.Stderr}} {
			if out.text != nil && *out.text != "" {
				writeOutput(w, out.name, *out.text)
			}
		}
	}
	if f, ok := readDemoFile(); ok && root(c).String("api") == "" { // the demo's daemons log to files
		_, err = fmt.Fprintf(w, "\nlogs: grep %s %s %s   (the demo's; under systemd: journalctl SZ_EXECUTION_ID=%s)\n",
			shellQuote(id), shellQuote(filepath.Join(f.Dir, "scheduler.log")), shellQuote(filepath.Join(f.Dir, "governor.log")), shellQuote(id))
		return err
	}
	_, err = fmt.Fprintf(w, "\nlogs: journalctl SZ_EXECUTION_ID=%s   (scheduler and handler lines of this execution)\n", shellQuote(id))
	return err
}

// writeOutput prints captured output indented under its name, each line
// escaped for the terminal.
func writeOutput(w io.Writer, name, text string) {
	fmt.Fprintf(w, "  %s:\n", name)
	for _, l := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		fmt.Fprintf(w, "    | %s\n", escapeLines(l))
	}
}

// instanceText is where an attempt ran: "ID on HOST", either alone, or ""
// when it was sent to no instance or to a handler of one process that
// says nothing of itself.
func instanceText(id, host string) string {
	switch {
	case id != "" && host != "":
		return id + " on " + host
	case id != "":
		return id
	case host != "":
		return "on " + host
	}
	return ""
}
