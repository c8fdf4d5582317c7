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

// table writes rows aligned under header.
func table(w io.Writer, header []string, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
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
		if t.RunDate != nil {
			return fmt.Sprint("at ", t.RunDate)
		}
	}
	return compact(raw)
}
