package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// printJSON writes v indented, for --json.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// table writes rows aligned under header, every cell escaped for the
// terminal and no trailing blanks.
func table(w io.Writer, header []string, rows [][]string) error {
	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		cells := make([]string, len(r))
		for i, v := range r {
			cells[i] = escapeText(v)
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, line := range strings.SplitAfter(buf.String(), "\n") {
		if line == "" {
			continue
		}
		if _, err := io.WriteString(w, strings.TrimRight(line, " \n")+"\n"); err != nil {
			return err
		}
	}
	return nil
}

// compact renders raw JSON on one line, "-" when empty.
func compact(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "-"
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return string(raw)
	}
	return b.String()
}

// describeTrigger renders the common trigger forms for humans ("every 10s",
// "cron */5 * * * * *") and anything else as compact JSON.
func describeTrigger(raw json.RawMessage) string {
	var t struct {
		Type                                 string
		Expr                                 string
		RunDate                              any `json:"run_date"`
		Weeks, Days, Hours, Minutes, Seconds float64
	}
	if json.Unmarshal(raw, &t) != nil {
		return compact(raw)
	}
	switch t.Type {
	case "interval":
		d := time.Duration((t.Seconds + 60*t.Minutes + 3600*t.Hours + 86400*(t.Days+7*t.Weeks)) * float64(time.Second))
		if d > 0 {
			return "every " + d.String()
		}
	case "cron", "calendar":
		if t.Expr != "" {
			return t.Type + " " + t.Expr
		}
	case "date":
		if s, ok := t.RunDate.(string); ok {
			if at, err := time.Parse(time.RFC3339Nano, s); err == nil {
				return "at " + fmtTime(at)
			}
		}
		if t.RunDate != nil {
			return fmt.Sprint("at ", t.RunDate)
		}
	}
	return compact(raw)
}

// fmtDur renders a duration for people: "8.5ms", "850ms", "2.0s",
// "12m3s", "1h12m", "3d4h".
func fmtDur(d time.Duration) string {
	switch {
	case d < 0:
		return "-" + fmtDur(-d)
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	case d < time.Second:
		return fmt.Sprintf("%dms", d/time.Millisecond)
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d < time.Hour:
		return fmt.Sprintf("%dm%ds", d/time.Minute, d%time.Minute/time.Second)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%dm", d/time.Hour, d%time.Hour/time.Minute)
	}
	return fmt.Sprintf("%dd%dh", d/(24*time.Hour), d%(24*time.Hour)/time.Hour)
}

// fmtMillis is fmtDur of a duration_ms field.
func fmtMillis(ms float64) string { return fmtDur(time.Duration(ms * float64(time.Millisecond))) }

// fmtLeft is the time from now to t: "12s" ahead, "3s ago" behind, "-"
// when there is no t.
func fmtLeft(t, now time.Time) string {
	switch {
	case t.IsZero():
		return "-"
	case t.Sub(now).Abs() < 50*time.Millisecond:
		return "now"
	case t.Before(now):
		return fmtDur(now.Sub(t).Truncate(time.Second)) + " ago"
	}
	return fmtDur(t.Sub(now).Round(100 * time.Millisecond))
}
