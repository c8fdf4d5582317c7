package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/api/apitest"
	"github.com/schedulezero/schedulezero/pkg/scheduler/schedtype"
	"github.com/schedulezero/schedulezero/pkg/store"
)

func TestEscapeText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain id", "plain id"},
		{"é ünïcode ✓", "é ünïcode ✓"},
		{"\x1b[2Jcleared", `\x1b[2Jcleared`},
		{"row\nforged", `row\nforged`},
		{"back\rspace\b", `back\rspace\b`},
		{"del\x7f", `del\x7f`},
		{"csi\u009b", `csi\u009b`},
		{"bad \xff utf8", `bad \xff utf8`},
		{"real \uFFFD kept", "real \uFFFD kept"},
		{"line\u2028sep", `line\u2028sep`},
	}
	for _, tc := range tests {
		if got := escapeText(tc.in); got != tc.want {
			t.Errorf("escapeText(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if got := escapeText(escapeText(tc.in)); got != tc.want {
			t.Errorf("escapeText twice (%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got := shellQuote("it's \x1b"); got != `'it'\''s \x1b'` {
		t.Errorf("shellQuote = %q", got)
	}
}

// hostile seeds a schedule, a handler and attempts whose names, errors and
// output carry terminal control sequences and newlines (the schedule id
// itself must follow the id rule of the API; an execution record, a
// handler's name and output come from elsewhere).
func hostile(t *testing.T) *testBundle {
	t.Helper()
	tb := setup(t)
	const evil = "x\x1b[2J\x1b]0;owned\x07\nFORGED ROW"
	tb.b.AddHandler(schedtype.HandlerStatus{Handler: store.Handler{ID: "h" + evil, Methods: []string{"m" + evil}, Status: "online", LastSeen: apitest.Epoch}})
	if _, err := tb.b.AddSchedule(context.Background(), schedtype.ScheduleRequest{ID: "s-evil", HandlerID: "h" + evil, Method: "m" + evil,
		Trigger: json.RawMessage(`{"type":"interval","seconds":60}`)}); err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(map[string]any{"success": false, "exit_code": 3, "stdout": "ok\n\x1b[31mred" + evil + "\n", "stderr": "warn\r\x1b[Kgone"})
	tb.b.AddExecution(store.Execution{ID: "e" + evil, Attempt: 1, MaxAttempts: 2, ScheduleID: "s-evil", HandlerID: "h" + evil, Method: "m" + evil,
		Status: store.StatusFailed, StartedAt: apitest.Epoch.Add(time.Second), CompletedAt: apitest.Epoch.Add(2 * time.Second), DurationMS: 1000,
		Error: "boom" + evil, Result: out})
	return tb
}

// TestOutputEscaped checks that no human-readable output lets a control
// character through, and that the newlines in values forge no rows; --json
// keeps the values exact.
func TestOutputEscaped(t *testing.T) {
	const evilID = "x\x1b[2J\x1b]0;owned\x07\nFORGED ROW"
	tests := []struct {
		name  string
		args  []string
		lines int // lines of output: a forged row would add one
	}{
		{"schedule list", []string{"schedule", "list"}, 2},
		{"history", []string{"history"}, 2},
		{"history show", []string{"history", "show", "e" + evilID}, 0},
		{"schedule show", []string{"schedule", "show", "s-evil"}, 0},
		{"handlers", []string{"handlers", "--governor", "unix:/nonexistent/governor.sock"}, 3},
		{"stats", []string{"stats"}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tb := hostile(t)
			out, errOut, code := tb.cli(t, tc.args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			for i, r := range out {
				if (r < 0x20 && r != '\n') || r == 0x7f || (r >= 0x80 && r < 0xa0) {
					t.Fatalf("control character %q at %d in:\n%s", r, i, out)
				}
			}
			if strings.Contains(out, "\nFORGED ROW") {
				t.Errorf("a value forged a line:\n%s", out)
			}
			if n := strings.Count(out, "\n"); tc.lines > 0 && n != tc.lines {
				t.Errorf("%d lines, want %d:\n%s", n, tc.lines, out)
			}
		})
	}
	t.Run("json keeps values", func(t *testing.T) {
		tb := hostile(t)
		out, _, code := tb.cli(t, "--json", "history")
		var recs []store.Execution
		if err := json.Unmarshal([]byte(out), &recs); err != nil || code != 0 || len(recs) != 1 || recs[0].ID != "e"+evilID {
			t.Errorf("exit %d, %v, %+v", code, err, recs)
		}
	})
}
