package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/schedulezero/schedulezero/pkg/client"
	"github.com/schedulezero/schedulezero/pkg/store"
)

// followEvery is how often history --follow (and the demo) polls.
const followEvery = 500 * time.Millisecond

func historyCommand() *cli.Command {
	return &cli.Command{
		Name:  "history",
		Usage: "show execution attempts, oldest first",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "schedule", Usage: "only this schedule id"},
			&cli.StringFlag{Name: "handler", Usage: "only this handler id"},
			&cli.StringFlag{Name: "status", Usage: "only this status: pending, running, success, error, timeout, interrupted, cancelled, missed"},
			&cli.IntFlag{Name: "n", Value: 20, Usage: "number of most recent attempts (at most 1000)"},
			&cli.BoolFlag{Name: "follow", Aliases: []string{"f"}, Usage: "keep polling every 500ms and print new or changed attempts until interrupted (with --json: one object per line)"},
		},
		Action: history,
	}
}

func history(c *cli.Context) error {
	n := c.Int("n")
	if n < 1 || n > 1000 {
		return usagef("history: -n must be between 1 and 1000")
	}
	q := client.ExecutionQuery{ScheduleID: c.String("schedule"), HandlerID: c.String("handler"), Status: store.Status(c.String("status")), Limit: n}
	cl, err := newClient(c)
	if err != nil {
		return err
	}
	defer cl.Close()
	w, asJSON := c.App.Writer, jsonOutput(c)
	if !c.Bool("follow") {
		recs, err := cl.Executions(c.Context, q)
		if err != nil {
			return apiFailure(err)
		}
		slices.Reverse(recs)
		if asJSON {
			return printJSON(w, recs)
		}
		return printHistory(w, recs)
	}
	f := &follower{cl: cl, q: q}
	if _, err := f.poll(c.Context); err != nil { // fail fast when the API is not there at all
		return apiFailure(err)
	}
	f.seen = nil // print the first window too
	emit := func(recs []store.Execution) {
		for _, e := range recs {
			if asJSON {
				b, _ := json.Marshal(e) // a store.Execution always marshals
				fmt.Fprintln(w, string(b))
			} else {
				fmt.Fprintln(w, historyRow(e))
			}
		}
	}
	if !asJSON {
		fmt.Fprintln(w, historyHeader())
	}
	err = f.run(c.Context, emit, func(err error) { fmt.Fprintln(c.App.ErrWriter, "schedulezero: history:", err) })
	if c.Context.Err() != nil {
		return nil // interrupted: the normal end of --follow
	}
	return err
}

// follower polls history and reports attempts that are new or changed since
// the previous poll.
type follower struct {
	cl   *client.Client
	q    client.ExecutionQuery
	seen map[string]store.Status
}

func attemptKey(e store.Execution) string { return e.ID + "/" + strconv.Itoa(e.Attempt) }

// poll returns the new or changed attempts, oldest first.
func (f *follower) poll(ctx context.Context) ([]store.Execution, error) {
	recs, err := f.cl.Executions(ctx, f.q)
	if err != nil {
		return nil, err
	}
	next := make(map[string]store.Status, len(recs))
	var out []store.Execution
	for _, e := range recs {
		k := attemptKey(e)
		next[k] = e.Status
		if old, ok := f.seen[k]; !ok || old != e.Status {
			out = append(out, e)
		}
	}
	f.seen = next
	slices.SortStableFunc(out, func(a, b store.Execution) int {
		return cmp.Or(cmp.Or(a.StartedAt, a.ScheduledAt).Compare(cmp.Or(b.StartedAt, b.ScheduledAt)), cmp.Compare(a.Attempt, b.Attempt))
	})
	return out, nil
}

// run polls every followEvery until ctx is done. Poll errors go to warn and
// polling continues (the scheduler may be restarting).
func (f *follower) run(ctx context.Context, emit func([]store.Execution), warn func(error)) error {
	t := time.NewTicker(followEvery)
	defer t.Stop()
	for {
		recs, err := f.poll(ctx)
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err != nil:
			warn(err)
		default:
			emit(recs)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

func historyHeader() string {
	return fmt.Sprintf("%-21s  %-26s  %-20s  %-14s  %-7s  %-11s  %9s  %s", "STARTED", "EXECUTION", "SCHEDULE", "METHOD", "ATTEMPT", "STATUS", "DURATION", "ERROR")
}

// historyRow renders one attempt. A missed occurrence never ran: its time is
// the occurrence's, it has no attempt count or duration, and ERROR holds
// the reason it did not run.
func historyRow(e store.Execution) string {
	sched := cmp.Or(e.ScheduleID, "(run now)")
	attempt, dur := fmt.Sprintf("%d/%d", e.Attempt, e.MaxAttempts), fmt.Sprintf("%.1fms", e.DurationMS)
	if e.Status == store.StatusMissed {
		attempt, dur = "-", "-"
	}
	return strings.TrimRight(fmt.Sprintf("%-21s  %-26s  %-20s  %-14s  %-7s  %-11s  %9s  %s", fmtTime(cmp.Or(e.StartedAt, e.ScheduledAt)), e.ID, sched, e.Method,
		attempt, e.Status, dur, e.Error), " ")
}

func printHistory(w io.Writer, recs []store.Execution) error {
	if _, err := fmt.Fprintln(w, historyHeader()); err != nil {
		return err
	}
	for _, e := range recs {
		if _, err := fmt.Fprintln(w, historyRow(e)); err != nil {
			return err
		}
	}
	return nil
}
