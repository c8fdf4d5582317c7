package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/schedulezero/schedulezero/pkg/client"
	"github.com/schedulezero/schedulezero/pkg/event"
	"github.com/schedulezero/schedulezero/pkg/scheduler/schedtype"
	"github.com/schedulezero/schedulezero/pkg/store"
)

func historyCommand() *cli.Command {
	return &cli.Command{
		Name:  "history",
		Usage: "show execution attempts, oldest first (history show ID: every attempt of one execution)",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "schedule", Usage: "only this schedule id"},
			&cli.StringFlag{Name: "handler", Usage: "only this handler id"},
			&cli.StringFlag{Name: "status", Usage: "only this status: " + strings.Join(statusNames, ", ")},
			&cli.StringFlag{Name: "since", Usage: `only attempts at or after this time: a duration back from now ("1h", "30m") or a time (RFC 3339, "2026-01-02 15:04")`},
			&cli.StringFlag{Name: "until", Usage: "only attempts at or before this time (as --since)"},
			&cli.IntFlag{Name: "n", Value: 20, Usage: "number of most recent attempts (at most 1000)"},
			&cli.BoolFlag{Name: "follow", Aliases: []string{"f"}, Usage: "keep following the scheduler's event stream and print new or changed attempts until interrupted (with --json: one object per line)"},
		},
		Action:      history,
		Subcommands: []*cli.Command{historyShowCommand()},
	}
}

// statusNames are the statuses --status takes.
var statusNames = []string{"pending", "running", "success", "error", "timeout", "interrupted", "cancelled", "missed"}

// whenFlag reads --since or --until: a duration back from now or a time in
// the local zone.
func whenFlag(c *cli.Context, name string) (time.Time, error) {
	v := c.String(name)
	if v == "" {
		return time.Time{}, nil
	}
	ck := appClock(c)
	if d, err := time.ParseDuration(strings.TrimPrefix(v, "-")); err == nil {
		return ck.now().Add(-d), nil
	}
	for _, l := range timeLayouts {
		if t, err := time.ParseInLocation(l, v, ck.loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, usagef(`history: --%s %q: use a duration back from now ("1h", "90m") or a time (RFC 3339 2026-01-02T15:04:05Z, or "2026-01-02 15:04")`, name, v)
}

func history(c *cli.Context) error {
	if c.NArg() > 0 {
		return usagef("history: unexpected argument %q (to see one execution: schedulezero history show EXECUTION_ID)", c.Args().First())
	}
	n := c.Int("n")
	if n < 1 || n > 1000 {
		return usagef("history: -n must be between 1 and 1000")
	}
	if st := c.String("status"); st != "" && !slices.Contains(statusNames, st) {
		return usagef("history: --status %q: use one of %s", st, strings.Join(statusNames, ", "))
	}
	q := client.ExecutionQuery{ScheduleID: c.String("schedule"), HandlerID: c.String("handler"), Status: store.Status(c.String("status")), Limit: n}
	var err error
	if q.Since, err = whenFlag(c, "since"); err != nil {
		return err
	}
	if q.Until, err = whenFlag(c, "until"); err != nil {
		return err
	}
	if !q.Since.IsZero() && !q.Until.IsZero() && q.Until.Before(q.Since) {
		return usagef("history: --until %s is before --since %s", c.String("until"), c.String("since"))
	}
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
		if len(recs) == 0 {
			if err := knownFilters(c, cl, q); err != nil {
				return err
			}
		}
		sortByTime(recs)
		if asJSON {
			return printJSON(w, nonNilRecs(recs))
		}
		if len(recs) == 0 {
			_, err := fmt.Fprintln(w, "no attempts match"+describeQuery(q))
			return err
		}
		return printHistory(w, recs)
	}
	f := &follower{cl: cl, q: q}
	if _, err := f.poll(c.Context); err != nil { // fail fast when the API is not there at all
		return apiFailure(err)
	}
	if err := knownFilters(c, cl, q); err != nil {
		return err
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

// knownFilters turns an empty answer for a schedule or handler that does
// not exist into a not-found error (a typo would otherwise look like "no
// runs yet"). A removed schedule keeps its history, so this is asked only
// when nothing matched.
func knownFilters(c *cli.Context, cl *client.Client, q client.ExecutionQuery) error {
	if q.ScheduleID != "" {
		_, err := cl.Schedule(c.Context, q.ScheduleID)
		var ae *client.APIError
		if errors.As(err, &ae) && ae.Status == 404 {
			if recs, err := cl.Executions(c.Context, client.ExecutionQuery{ScheduleID: q.ScheduleID, Limit: 1}); err == nil && len(recs) == 0 {
				return cli.Exit(fmt.Sprintf("history: --schedule %s: no such schedule and no history of one (see: schedulezero schedule list)", shellQuote(q.ScheduleID)), exitNotFound)
			}
		} else if err != nil {
			return apiFailure(err)
		}
	}
	if q.HandlerID != "" {
		hs, err := cl.Handlers(c.Context)
		if err != nil {
			return apiFailure(err)
		}
		if !slices.ContainsFunc(hs, func(h schedtype.HandlerStatus) bool { return h.ID == q.HandlerID }) {
			if recs, err := cl.Executions(c.Context, client.ExecutionQuery{HandlerID: q.HandlerID, Limit: 1}); err == nil && len(recs) == 0 {
				return cli.Exit(fmt.Sprintf("history: --handler %s: no such handler and no history of one (see: schedulezero handlers)", shellQuote(q.HandlerID)), exitNotFound)
			}
		}
	}
	return nil
}

// describeQuery renders the filters of an empty answer.
func describeQuery(q client.ExecutionQuery) string {
	var parts []string
	for _, kv := range [][2]string{{"schedule", q.ScheduleID}, {"handler", q.HandlerID}, {"status", string(q.Status)}} {
		if kv[1] != "" {
			parts = append(parts, "--"+kv[0]+" "+shellQuote(kv[1]))
		}
	}
	if !q.Since.IsZero() {
		parts = append(parts, "since "+fmtTime(q.Since))
	}
	if !q.Until.IsZero() {
		parts = append(parts, "until "+fmtTime(q.Until))
	}
	if len(parts) == 0 {
		return " (no execution recorded yet)"
	}
	return " " + strings.Join(parts, ", ")
}

func nonNilRecs(recs []store.Execution) []store.Execution {
	if recs == nil {
		return []store.Execution{}
	}
	return recs
}

// attemptTime is when an attempt started, or for one that never started
// (missed, pending) the occurrence it stood for.
func attemptTime(e store.Execution) time.Time {
	return cmp.Or(e.StartedAt, e.ScheduledAt, e.CompletedAt)
}

// sortByTime orders attempts oldest first; the API lists them newest
// first by record, which is not quite time order (a retry is written after
// a later fire of another schedule).
func sortByTime(recs []store.Execution) {
	slices.SortStableFunc(recs, func(a, b store.Execution) int {
		return cmp.Or(attemptTime(a).Compare(attemptTime(b)), cmp.Compare(a.ID, b.ID), cmp.Compare(a.Attempt, b.Attempt))
	})
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
	sortByTime(out)
	return out, nil
}

// run follows the scheduler's event stream until ctx is done and emits
// each attempt that is new or changed. The history is read when the
// stream opens (the window) and when it says events were lost; a stream
// that breaks is reopened by the client.
func (f *follower) run(ctx context.Context, emit func([]store.Execution), warn func(error)) error {
	q := client.EventQuery{Kinds: []string{"execution."}, ScheduleID: f.q.ScheduleID, HandlerID: f.q.HandlerID}
	err := f.cl.Events(ctx, q, func(se client.StreamEvent) error {
		if se.Live || se.Lost != nil {
			recs, err := f.poll(ctx)
			if err != nil {
				warn(err)
				return nil
			}
			emit(recs)
			return nil
		}
		e := f.record(ctx, se.Event)
		if f.q.Status != "" && e.Status != f.q.Status {
			return nil
		}
		k := attemptKey(e)
		if old, ok := f.seen[k]; ok && old == e.Status {
			return nil
		}
		if f.seen == nil {
			f.seen = map[string]store.Status{}
		}
		f.seen[k] = e.Status
		emit([]store.Execution{e})
		return nil
	})
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// record reads the attempt an execution event tells of (with its result
// and the store's times), or, when that fails, makes it from the event.
func (f *follower) record(ctx context.Context, ev event.Event) store.Execution {
	if ev.ExecutionID != "" {
		if atts, err := f.cl.Execution(ctx, ev.ExecutionID); err == nil {
			for _, a := range atts {
				if a.Attempt == ev.Attempt && a.Status == store.Status(ev.Status) {
					return a
				}
			}
		}
	}
	return executionOf(ev)
}

// executionOf is the attempt an execution event tells of, as far as it
// tells (a finished attempt's start is its end less its duration).
func executionOf(ev event.Event) store.Execution {
	e := store.Execution{ID: ev.ExecutionID, Attempt: ev.Attempt, MaxAttempts: ev.MaxAttempts, ScheduleID: ev.ScheduleID,
		HandlerID: ev.HandlerID, Method: ev.Method, Status: store.Status(ev.Status), ScheduledAt: ev.ScheduledAt,
		DurationMS: ev.DurationMS, Error: ev.Reason}
	switch ev.Kind {
	case event.ExecutionStarted:
		e.StartedAt = ev.Time
	case event.ExecutionFinished:
		e.CompletedAt = ev.Time
		e.StartedAt = ev.Time.Add(-time.Duration(ev.DurationMS * float64(time.Millisecond)))
	}
	return e
}

// historyWidths are the column widths of --follow, which prints rows as
// they come and so cannot measure them; a longer value widens its row only.
var historyWidths = []int{21, 26, 20, 14, 7, 11, 9}

var historyColumns = []string{"STARTED", "EXECUTION", "SCHEDULE", "METHOD", "ATTEMPT", "STATUS", "DURATION", "ERROR"}

func historyHeader() string { return fixedRow(historyWidths, historyColumns) }

// historyCells renders one attempt. A missed occurrence never ran: its time
// is the occurrence's, it has no attempt count or duration, and ERROR
// holds the reason it did not run.
func historyCells(e store.Execution) []string {
	dur := fmtMillis(e.DurationMS)
	if e.Status == store.StatusMissed || (!e.Status.Finished() && e.DurationMS == 0) {
		dur = "-"
	}
	cells := []string{fmtTime(attemptTime(e)), e.ID, cmp.Or(e.ScheduleID, "(run now)"), e.Method, attemptText(e), string(e.Status), dur, e.Error}
	for i, v := range cells {
		cells[i] = escapeText(v)
	}
	return cells
}

func historyRow(e store.Execution) string { return fixedRow(historyWidths, historyCells(e)) }

// fixedRow pads each cell to its width in widths, the cells beyond them
// (the last, free-length column) as they are: a line that --follow can
// print before it knows the rows to come.
func fixedRow(widths []int, cells []string) string {
	var b strings.Builder
	for i, v := range cells {
		if i < len(widths) {
			fmt.Fprintf(&b, "%-*s  ", widths[i], v)
		} else {
			b.WriteString(v)
		}
	}
	return strings.TrimRight(b.String(), " ")
}

func printHistory(w io.Writer, recs []store.Execution) error {
	rows := make([][]string, 0, len(recs))
	for _, e := range recs {
		rows = append(rows, historyCells(e))
	}
	return table(w, historyColumns, rows)
}
