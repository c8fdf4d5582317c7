package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/schedulezero/schedulezero/pkg/calendar"
	"github.com/schedulezero/schedulezero/pkg/field"
	"github.com/schedulezero/schedulezero/pkg/trigger"
)

// maxIterations bounds calendar -n.
const maxIterations = 1000

func calendarCommand() *cli.Command {
	return &cli.Command{
		Name:      "calendar",
		Usage:     "print the next fire times of a calendar expression, like systemd-analyze calendar",
		ArgsUsage: "EXPR...",
		UsageText: `schedulezero calendar [--tz ZONE] [-n N] [--cron] EXPR...

EXPR is a systemd calendar event ("Mon..Fri 09:00", "*-*-* 00/15:00", "*-*~01"
with an optional trailing zone), or with --cron a crontab line ("0 9 * * 1-5",
"CRON_TZ=Europe/Berlin 30 2 * * *", "@daily", "@every 90m"). Works offline: no
scheduler is asked.

The times are those a schedule fires at: systemd's, except that a wall time
skipped by a daylight-saving gap fires once right after the gap (systemd skips
it). --systemd prints exactly what systemd-analyze calendar prints.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "tz", Usage: "IANA zone the expression is read in and the times are shown in (default: the local zone)"},
			&cli.IntFlag{Name: "iterations", Aliases: []string{"n"}, Value: 1, Usage: "number of fire times to print (1 to 1000)"},
			&cli.BoolFlag{Name: "cron", Usage: "EXPR is a crontab line instead of a systemd calendar event"},
			&cli.BoolFlag{Name: "systemd", Usage: "systemd's elapses exactly: skip wall times that a DST gap skips, as OnCalendar= does"},
		},
		Action: calendarAction,
	}
}

// occurrences is what the calendar command prints for one expression.
type occurrences struct {
	Original   string      `json:"original"`
	Normalized string      `json:"normalized"`
	Next       []time.Time `json:"next"`
}

func calendarAction(c *cli.Context) error {
	if c.NArg() == 0 {
		return usagef("calendar: expected a calendar expression, e.g. schedulezero calendar 'Mon..Fri 09:00'")
	}
	n := c.Int("iterations")
	if n < 1 || n > maxIterations {
		return usagef("calendar: -n must be between 1 and %d", maxIterations)
	}
	ck := appClock(c)
	loc := ck.loc
	if tz := c.String("tz"); tz != "" {
		var err error
		if loc, err = time.LoadLocation(tz); err != nil {
			return usagef(`calendar: --tz %q is not a known time zone (use an IANA name such as "Europe/Berlin" or "UTC")`, tz)
		}
	}
	now := ck.now()
	var all []occurrences
	for _, expr := range c.Args().Slice() {
		o, err := nextTimes(expr, c.Bool("cron"), c.Bool("systemd"), now, loc, n)
		if err != nil {
			return err
		}
		all = append(all, o)
	}
	if jsonOutput(c) {
		return printJSON(c.App.Writer, all)
	}
	for i, o := range all {
		if i > 0 {
			fmt.Fprintln(c.App.Writer)
		}
		if err := printOccurrences(c.App.Writer, o, now, loc); err != nil {
			return err
		}
	}
	return nil
}

// nextTimes parses expr and returns up to n fire times after now.
func nextTimes(expr string, cron, systemd bool, now time.Time, loc *time.Location, n int) (occurrences, error) {
	o := occurrences{Original: expr}
	var trig trigger.Trigger
	if cron {
		// trigger.Parse, not ParseCrontab: it also takes "@every 90m".
		raw, _ := json.Marshal(map[string]string{"type": "cron", "expr": expr}) // strings always marshal
		t, norm, err := trigger.Parse(raw, now, loc)
		if err != nil {
			return o, expressionError(expr, err)
		}
		trig = t
		var nf struct {
			Expr     string `json:"expr"`
			Timezone string `json:"timezone"`
		}
		switch {
		case json.Unmarshal(norm, &nf) != nil || nf.Expr == "":
			o.Normalized = compact(norm)
		case nf.Timezone != "" && nf.Timezone != loc.String():
			o.Normalized = "CRON_TZ=" + nf.Timezone + " " + nf.Expr
		default:
			o.Normalized = nf.Expr
		}
	} else {
		ev, err := calendar.Parse(expr, loc)
		if err != nil {
			return o, expressionError(expr, err)
		}
		// What a schedule does: systemd's elapses plus the DST gap rule.
		trig, o.Normalized = trigger.Calendar{Event: ev}, ev.String()
		if systemd {
			trig = ev
		}
	}
	for t, ok := trig.Next(now); ok && len(o.Next) < n; t, ok = trig.Next(t) {
		o.Next = append(o.Next, t)
	}
	return o, nil
}

// expressionError is a usage error with the parser's problem and fix.
func expressionError(expr string, err error) error {
	var fe *field.Error
	if errors.As(err, &fe) {
		msg := fe.Problem
		if fe.Fix != "" {
			msg += " (" + fe.Fix + ")"
		}
		return usagef("calendar: %s", msg)
	}
	return usagef("calendar: %q: %v", expr, err)
}

// printOccurrences writes the systemd-analyze calendar layout.
func printOccurrences(w io.Writer, o occurrences, now time.Time, loc *time.Location) error {
	line := func(label, v string) { fmt.Fprintf(w, "%15s: %s\n", label, v) }
	line("Original form", o.Original)
	line("Normalized form", o.Normalized)
	if len(o.Next) == 0 {
		line("Next elapse", "never")
		return nil
	}
	for i, t := range o.Next {
		label := "Next elapse"
		if i > 0 {
			label = fmt.Sprintf("Iter. #%d", i+1)
		}
		line(label, systemdTime(t.In(loc)))
		if !isUTC(loc, t) {
			line("(in UTC)", systemdTime(t.UTC()))
		}
		line("From now", relative(t.Sub(now)))
	}
	return nil
}

// isUTC tells whether loc is UTC itself (by name, or the local zone of a
// UTC host), where systemd prints no "(in UTC)" line. A zone that is at
// offset 0 only part of the year, or under another name (Europe/London's
// GMT), is not.
func isUTC(loc *time.Location, t time.Time) bool {
	for _, m := range []time.Month{time.January, time.July} {
		name, off := time.Date(t.Year(), m, 1, 0, 0, 0, 0, loc).Zone()
		if off != 0 || name != "UTC" {
			return false
		}
	}
	return true
}

// systemdTime formats t like systemd's format_timestamp.
func systemdTime(t time.Time) string { return t.Format("Mon 2006-01-02 15:04:05 MST") }

// relative formats d like systemd's format_timestamp_relative.
func relative(d time.Duration) string {
	suffix := "left"
	if d < 0 {
		d, suffix = -d, "ago"
	}
	const (
		day   = 24 * time.Hour
		week  = 7 * day
		month = 2629800 * time.Second
		year  = 31557600 * time.Second
	)
	plural := func(n int64, one, many string) string {
		if n == 1 {
			return fmt.Sprintf("%d %s", n, one)
		}
		return fmt.Sprintf("%d %s", n, many)
	}
	var s string
	switch {
	case d >= year:
		s = plural(int64(d/year), "year", "years") + " " + plural(int64(d%year/month), "month", "months")
	case d >= month:
		s = plural(int64(d/month), "month", "months") + " " + plural(int64(d%month/day), "day", "days")
	case d >= week:
		s = plural(int64(d/week), "week", "weeks") + " " + plural(int64(d%week/day), "day", "days")
	case d >= 2*day:
		s = fmt.Sprintf("%d days", d/day)
	case d >= 25*time.Hour:
		s = fmt.Sprintf("1 day %dh", (d-day)/time.Hour)
	case d >= 6*time.Hour:
		s = fmt.Sprintf("%dh", d/time.Hour)
	case d >= time.Hour:
		s = fmt.Sprintf("%dh %dmin", d/time.Hour, d%time.Hour/time.Minute)
	case d >= 5*time.Minute:
		s = fmt.Sprintf("%dmin", d/time.Minute)
	case d >= time.Minute:
		s = fmt.Sprintf("%dmin %ds", d/time.Minute, d%time.Minute/time.Second)
	case d >= time.Second:
		s = fmt.Sprintf("%ds", d/time.Second)
	case d >= time.Millisecond:
		s = fmt.Sprintf("%dms", d/time.Millisecond)
	case d > 0:
		s = fmt.Sprintf("%dus", d/time.Microsecond)
	default:
		return "now"
	}
	return strings.TrimSpace(s) + " " + suffix
}
