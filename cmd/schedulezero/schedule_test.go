package main

import (
	"testing"

	"github.com/schedulezero/schedulezero/pkg/api"
)

func TestSchedule_Commands(t *testing.T) {
	runGolden(t, []cliCase{
		{name: "list", args: []string{"schedule", "list"}, seed: true},
		{name: "list_empty", args: []string{"schedule", "ls"}},
		{name: "list_json", args: []string{"--json", "schedule", "list"}, seed: true},
		{name: "show", args: []string{"schedule", "show", "counter"}, seed: true},
		{name: "show_json", args: []string{"--json", "schedule", "show", "nightly"}, seed: true},
		{name: "show_missing", args: []string{"schedule", "show", "ghost"}, code: exitNotFound},
		{name: "show_no_arg", args: []string{"schedule", "show"}, code: exitUsage},
		{name: "rm", args: []string{"schedule", "rm", "counter"}, seed: true},
		{name: "rm_missing", args: []string{"schedule", "rm", "ghost"}, code: exitNotFound},
		{name: "pause", args: []string{"schedule", "pause", "counter"}, seed: true},
		{name: "resume", args: []string{"schedule", "resume", "counter"}, seed: true},
		{name: "pause_missing", args: []string{"schedule", "pause", "ghost"}, code: exitNotFound},
		{name: "run", args: []string{"schedule", "run", "counter"}, seed: true},
		{name: "run_json", args: []string{"--json", "schedule", "run", "counter"}, seed: true},
		{name: "run_missing", args: []string{"schedule", "run", "ghost"}, code: exitNotFound},
		{name: "run_force", args: []string{"schedule", "run", "--force", "counter"}, seed: true},
		{name: "show_policy", args: []string{"schedule", "show", "nightly"}, seed: true},
		{name: "edit", args: []string{"schedule", "edit", "counter", "--cron", "0 3 * * *", "--timezone", "Europe/Berlin", "--max-attempts", "5", "--timeout", "1m", "--misfire", "all", "--misfire-limit", "3"}, seed: true},
		{name: "edit_policy_json", args: []string{"--json", "schedule", "edit", "nightly", "--overlap", "replace", "--retry-on", "error,timeout", "--retry-on", "unavailable", "--backoff", "2s"}, seed: true},
		{name: "edit_method_params", args: []string{"schedule", "edit", "counter", "--method", "ping", "--params", `{"n":2}`}, seed: true},
		{name: "edit_nothing", args: []string{"schedule", "edit", "counter"}, seed: true, code: exitUsage},
		{name: "edit_bad_policy", args: []string{"schedule", "edit", "counter", "--overlap", "never"}, seed: true, code: exitUsage},
		{name: "edit_two_triggers", args: []string{"schedule", "edit", "counter", "--every", "1s", "--cron", "* * * * *"}, seed: true, code: exitUsage},
		{name: "edit_missing", args: []string{"schedule", "edit", "ghost", "--max-attempts", "2"}, code: exitNotFound},
		{name: "edit_bad_trigger", args: []string{"schedule", "edit", "counter", "--cron", "61 * * * *"}, seed: true, code: exitUsage},
		{name: "backfill", args: []string{"schedule", "backfill", "counter", "--from", "2026-01-02T03:04:05Z", "--to", "2026-01-02T03:04:15Z"}, seed: true},
		{name: "backfill_local", args: []string{"schedule", "backfill", "counter", "--from", "2026-01-02 03:04", "--to", "2026-01-02 03:05"}, seed: true},
		{name: "backfill_json", args: []string{"--json", "schedule", "backfill", "counter", "--from", "2026-01-02T03:04:05Z", "--to", "2026-01-02T03:04:08Z"}, seed: true},
		{name: "backfill_none", args: []string{"schedule", "backfill", "counter", "--from", "2025-01-01T00:00:00Z", "--to", "2025-01-02T00:00:00Z"}, seed: true},
		{name: "backfill_too_many", args: []string{"schedule", "backfill", "counter", "--from", "2026-01-02T03:04:05Z", "--to", "2026-01-03T00:00:00Z"}, seed: true, code: exitUsage},
		{name: "backfill_bad_time", args: []string{"schedule", "backfill", "counter", "--from", "yesterday", "--to", "2026-01-03T00:00:00Z"}, code: exitUsage},
		{name: "backfill_no_to", args: []string{"schedule", "backfill", "counter", "--from", "2026-01-02T03:04:05Z"}, code: exitUsage},
		{name: "backfill_reversed", args: []string{"schedule", "backfill", "counter", "--from", "2026-01-03T00:00:00Z", "--to", "2026-01-02T00:00:00Z"}, code: exitUsage},
		{name: "backfill_missing", args: []string{"schedule", "backfill", "ghost", "--from", "2026-01-02T03:04:05Z", "--to", "2026-01-03T00:00:00Z"}, code: exitNotFound},
	})
}

// TestSchedule_Paused: a paused schedule shows no next fire (it will not
// fire there) and says how to resume it.
func TestSchedule_Paused(t *testing.T) {
	tb := setup(t)
	tb.seed(t)
	if _, errOut, code := tb.cli(t, "schedule", "pause", "nightly"); code != 0 {
		t.Fatal(errOut)
	}
	for name, args := range map[string][]string{"list_paused": {"schedule", "list"}, "show_paused": {"schedule", "show", "nightly", "-n", "2"}} {
		out, errOut, code := tb.cli(t, args...)
		golden(t, name, args, out, errOut, code)
	}
}

func TestState(t *testing.T) {
	tests := []struct {
		s    api.Schedule
		want string
	}{
		{api.Schedule{}, "active"},
		{api.Schedule{HandlerState: "online"}, "active"},
		{api.Schedule{HandlerState: api.HandlerRemoved}, "active, handler removed"},
		{api.Schedule{Paused: true, HandlerState: "offline"}, "paused, handler offline"},
		{api.Schedule{Done: true, HandlerState: api.HandlerRemoved}, "done"},
	}
	for _, tc := range tests {
		if got := state(tc.s); got != tc.want {
			t.Errorf("state(%+v) = %q, want %q", tc.s, got, tc.want)
		}
	}
}
