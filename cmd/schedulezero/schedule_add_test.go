package main

import (
	"context"
	"flag"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"
)

func TestScheduleAdd_Golden(t *testing.T) {
	runGolden(t, []cliCase{
		{name: "add_every", args: []string{"schedule", "add", "--handler", "dingaling", "--method", "quick_aling", "--every", "10s", "--id", "q"}},
		{name: "add_cron_json", args: []string{"--json", "schedule", "add", "--handler", "dingaling", "--method", "counter_test", "--params", `{"increment":5}`,
			"--cron", "*/5 * * * * *", "--id", "c", "--timezone", "UTC", "--max-attempts", "3", "--timeout", "30s"}},
		{name: "add_at", args: []string{"schedule", "add", "--handler", "dingaling", "--method", "ping", "--at", "2030-01-01T00:00:00Z", "--id", "once"}},
		{name: "add_calendar", args: []string{"schedule", "add", "--handler", "dingaling", "--method", "ping", "--calendar", "Mon..Fri 09:00", "--id", "cal"}},
		{name: "add_trigger", args: []string{"schedule", "add", "--handler", "dingaling", "--method", "ping", "--trigger", `{"type":"interval","minutes":5}`, "--id", "t"}},
		{name: "add_default_id", args: []string{"schedule", "add", "--handler", "dingaling", "--method", "ping", "--every", "1m"}},
		{name: "add_duplicate", args: []string{"schedule", "add", "--handler", "dingaling", "--method", "ping", "--every", "1m", "--id", "counter"}, seed: true, code: exitConflict},
		{name: "add_replace", args: []string{"schedule", "add", "--handler", "dingaling", "--method", "ping", "--every", "1m", "--id", "counter", "--replace"}, seed: true},
		{name: "add_unknown_handler", args: []string{"schedule", "add", "--handler", "ghost", "--method", "ping", "--every", "1m"}, code: exitNotFound},
		{name: "add_bad_trigger", args: []string{"schedule", "add", "--handler", "dingaling", "--method", "ping", "--trigger", `{"type":"weekly"}`}, code: exitUsage},
		{name: "add_no_trigger", args: []string{"schedule", "add", "--handler", "dingaling", "--method", "ping"}, code: exitUsage},
		{name: "add_two_triggers", args: []string{"schedule", "add", "--handler", "dingaling", "--method", "ping", "--every", "1s", "--cron", "* * * * *"}, code: exitUsage},
		{name: "add_no_handler", args: []string{"schedule", "add", "--method", "ping", "--every", "1s"}, code: exitUsage},
		{name: "add_bad_params", args: []string{"schedule", "add", "--handler", "dingaling", "--method", "ping", "--every", "1s", "--params", "[1]"}, code: exitUsage},
		{name: "add_policy", args: []string{"--json", "schedule", "add", "--handler", "dingaling", "--method", "ping", "--every", "1m", "--id", "p",
			"--misfire", "all", "--misfire-limit", "7", "--grace", "30s", "--overlap", "queue", "--queue-limit", "2", "--random-delay", "5m", "--random-offset", "1h",
			"--max-runs", "10", "--backoff", "1s", "--backoff-max", "5m", "--retry-on", "error,timeout"}},
		{name: "add_bad_policy", args: []string{"schedule", "add", "--handler", "dingaling", "--method", "ping", "--every", "1m", "--misfire", "sometimes"}, code: exitUsage},
		{name: "add_bad_retry_on", args: []string{"schedule", "add", "--handler", "dingaling", "--method", "ping", "--every", "1m", "--retry-on", "always"}, code: exitUsage},
		{name: "add_bad_flag", args: []string{"schedule", "add", "--every", "soon"}, code: exitUsage},
		{name: "add_every_no_unit", args: []string{"schedule", "add", "--handler", "dingaling", "--method", "ping", "--every", "10"}, code: exitUsage},
		{name: "add_bad_int", args: []string{"schedule", "add", "--handler", "dingaling", "--method", "ping", "--every", "1m", "--max-attempts", "many"}, code: exitUsage},
		{name: "add_past_at", args: []string{"schedule", "add", "--handler", "dingaling", "--method", "ping", "--at", "2020-01-01T00:00:00Z"}, code: exitUsage},
		{name: "add_past_at_allowed", args: []string{"schedule", "add", "--handler", "dingaling", "--method", "ping", "--at", "2020-01-01T00:00:00Z", "--allow-past", "--id", "late"}},
		{name: "add_too_fast", args: []string{"schedule", "add", "--handler", "dingaling", "--method", "ping", "--every", "1ns"}, code: exitUsage},
		{name: "add_bad_id", args: []string{"schedule", "add", "--handler", "dingaling", "--method", "ping", "--every", "1m", "--id", "a/../../b c?d#e"}, code: exitUsage},
	})
}

// TestAddRequest_Triggers checks the flag-to-trigger conversion, including
// the relative --at form that the golden tests cannot pin.
func TestAddRequest_Triggers(t *testing.T) {
	now := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"every", []string{"--every", "1m30s"}, `{"seconds":90,"type":"interval"}`},
		{"cron", []string{"--cron", "0 3 * * *"}, `{"expr":"0 3 * * *","type":"cron"}`},
		{"calendar", []string{"--calendar", "daily"}, `{"expr":"daily","type":"calendar"}`},
		{"at relative", []string{"--at", "+3s"}, `{"run_date":"2026-05-06T07:08:12Z","type":"date"}`},
		{"at absolute", []string{"--at", "2030-01-01 00:00:00"}, `{"run_date":"2030-01-01 00:00:00","type":"date"}`},
		{"trigger", []string{"--trigger", ` {"type":"date","run_date":1700000000}`}, `{"type":"date","run_date":1700000000}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cmd := scheduleAddCommand()
			set := flag.NewFlagSet("add", flag.ContinueOnError)
			for _, f := range cmd.Flags {
				if err := f.Apply(set); err != nil {
					t.Fatal(err)
				}
			}
			if err := set.Parse(append([]string{"--handler", "h", "--method", "m"}, tc.args...)); err != nil {
				t.Fatal(err)
			}
			c := cli.NewContext(&cli.App{}, set, nil)
			c.Context = context.Background()
			req, err := addRequest(c, now)
			if err != nil {
				t.Fatal(err)
			}
			if string(req.Trigger) != tc.want {
				t.Errorf("trigger %s, want %s", req.Trigger, tc.want)
			}
		})
	}
}

// TestScheduleList_AlignedWithLongIDs: the CLI's own default ids are longer
// than the fixed widths the table used to have.
func TestScheduleList_AlignedWithLongIDs(t *testing.T) {
	tb := setup(t)
	tb.seed(t)
	if _, errOut, code := tb.cli(t, "schedule", "add", "--handler", "dingaling", "--method", "quick_aling", "--every", "10s"); code != 0 {
		t.Fatal(errOut)
	}
	if _, errOut, code := tb.cli(t, "schedule", "add", "--handler", "dingaling", "--method", "ping", "--every", "1h", "--id", "a-very-long-schedule-identifier-indeed"); code != 0 {
		t.Fatal(errOut)
	}
	out, errOut, code := tb.cli(t, "schedule", "list")
	if code != 0 {
		t.Fatal(errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	col := strings.Index(lines[0], "JOB")
	if len(lines) != 5 || col < len("a-very-long-schedule-identifier-indeed") {
		t.Fatalf("header JOB at %d:\n%s", col, out)
	}
	for _, l := range lines[1:] {
		if !strings.HasPrefix(l[col:], "dingaling.") || l[col-2:col] != "  " {
			t.Errorf("JOB not at column %d in %q:\n%s", col, l, out)
		}
	}
}
