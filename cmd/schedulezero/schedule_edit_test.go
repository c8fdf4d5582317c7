package main

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/urfave/cli/v2"
)

// TestEditRequest checks that only the flags given reach the PATCH body, in
// either order around the ID, and that policy flags set to zero are sent (so
// that a key can go back to its default).
func TestEditRequest(t *testing.T) {
	now := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"method only", []string{"ID", "--method", "ping"}, `{"job_method":"ping"}`},
		{"flags before id", []string{"--max-attempts", "3", "ID"}, `{"max_attempts":3}`},
		{"zero attempts", []string{"ID", "--max-attempts", "0"}, `{"max_attempts":0}`},
		{"timeout", []string{"ID", "--timeout", "90s"}, `{"timeout":"1m30s"}`},
		{"trigger", []string{"ID", "--every", "1m"}, `{"trigger":{"seconds":60,"type":"interval"}}`},
		{"relative at", []string{"ID", "--at", "+3s"}, `{"trigger":{"run_date":"2026-05-06T07:08:12Z","type":"date"}}`},
		{"timezone and params", []string{"ID", "--timezone", "UTC", "--params", `{"a":1}`}, `{"job_params":{"a":1},"timezone":"UTC"}`},
		{"policy keys", []string{"ID", "--misfire", "skip", "--grace", "1m", "--max-runs", "5"}, `{"policy":{"grace_time":"1m0s","max_runs":5,"misfire":"skip"}}`},
		{"policy reset", []string{"ID", "--queue-limit", "0", "--overlap", ""}, `{"policy":{"overlap":"","queue_limit":0}}`},
		{"retry on list", []string{"ID", "--retry-on", "error, timeout", "--retry-on", "unavailable"}, `{"policy":{"retry_on":["error","timeout","unavailable"]}}`},
		{"notifications", []string{"ID", "--on-failure", "https://h.example/x", "--on-missed", "none", "--on-recovery", "handler:mail",
			"--on-dead-man", "handler:mail/page", "--dead-man-after", "26h"},
			`{"policy":{"dead_man_after":"26h0m0s","on_dead_man":"handler:mail/page","on_failure":"https://h.example/x","on_missed":"none","on_recovery":"handler:mail"}}`},
		{"notification reset", []string{"ID", "--on-failure", ""}, `{"policy":{"on_failure":""}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cmd := scheduleEditCommand()
			var got string
			cmd.Action = func(c *cli.Context) error {
				if c.NArg() != 1 || c.Args().First() != "ID" {
					t.Errorf("positional args %v, want [ID]", c.Args().Slice())
				}
				req, err := editRequest(c, now)
				if err != nil {
					return err
				}
				b, err := json.Marshal(req)
				got = string(b)
				return err
			}
			app := &cli.App{Name: "schedulezero", Commands: []*cli.Command{cmd}}
			args, err := arrangeArgs(app, append([]string{"schedulezero", "edit"}, tc.args...))
			if err != nil {
				t.Fatal(err)
			}
			if err := app.RunContext(context.Background(), args); err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("body %s, want %s", got, tc.want)
			}
		})
	}
}
