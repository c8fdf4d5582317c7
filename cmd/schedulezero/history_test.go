package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/api/apitest"
	"github.com/schedulezero/schedulezero/pkg/store"
)

func TestHistory(t *testing.T) {
	runGolden(t, []cliCase{
		{name: "history", args: []string{"history"}, seed: true},
		{name: "history_filtered", args: []string{"history", "--schedule", "counter", "--status", "timeout", "-n", "5"}, seed: true},
		{name: "history_json", args: []string{"--json", "history", "-n", "2"}, seed: true},
		{name: "history_missed", args: []string{"history", "--status", "missed"}, seed: true},
		{name: "history_empty", args: []string{"history"}},
		{name: "history_bad_n", args: []string{"history", "-n", "0"}, code: exitUsage},
		{name: "history_bad_status", args: []string{"history", "--status", "weird"}, code: exitUsage},
		{name: "history_since", args: []string{"history", "--since", "2026-01-02 03:06", "--until", "2026-01-02T03:06:30Z"}, seed: true},
		{name: "history_since_duration", args: []string{"history", "--since", "1m"}, seed: true},
		{name: "history_bad_since", args: []string{"history", "--since", "yesterday"}, code: exitUsage},
		{name: "history_handler", args: []string{"history", "--handler", "dingaling", "-n", "1"}, seed: true},
		{name: "history_unknown_schedule", args: []string{"history", "--schedule", "ghost"}, seed: true, code: exitNotFound},
		{name: "history_unknown_handler", args: []string{"history", "--handler", "ghost"}, seed: true, code: exitNotFound},
		{name: "history_no_match", args: []string{"history", "--schedule", "counter", "--status", "cancelled"}, seed: true},
		{name: "history_show", args: []string{"history", "show", "ex-9000"}, seed: true},
		{name: "history_show_json", args: []string{"history", "show", "ex-9001", "--json"}, seed: true},
		{name: "history_show_missing", args: []string{"history", "show", "ghost"}, seed: true, code: exitNotFound},
		{name: "history_show_latest", args: []string{"history", "show"}, seed: true},
		{name: "history_show_latest_of", args: []string{"history", "show", "--schedule", "counter"}, seed: true},
		{name: "history_show_none", args: []string{"history", "show"}, code: exitNotFound},
		{name: "history_show_both", args: []string{"history", "show", "ex-9000", "--schedule", "counter"}, code: exitUsage},
		{name: "history_stray_arg", args: []string{"history", "ex-9000"}, code: exitUsage},
	})
}

// TestHistoryShow_ExecOutput shows the captured output of an exec handler's
// reply on lines of its own, and the journalctl line.
func TestHistoryShow_ExecOutput(t *testing.T) {
	tb := setup(t)
	tb.b.AddExecution(store.Execution{ID: "ex-7", Attempt: 1, MaxAttempts: 1, ScheduleID: "backup", HandlerID: "ops", Method: "backup",
		Status: store.StatusFailed, ScheduledAt: apitest.Epoch, StartedAt: apitest.Epoch.Add(time.Millisecond), CompletedAt: apitest.Epoch.Add(2*time.Second + time.Millisecond),
		DurationMS: 2000, Error: "exit status 3",
		Result: json.RawMessage(`{"success":false,"exit_code":3,"stdout":"copied 12 files\nverifying\n","stderr":"disk full\n"}`)})
	args := []string{"history", "show", "ex-7"}
	out, errOut, code := tb.cli(t, args...)
	golden(t, "history_show_exec", args, out, errOut, code)
}

// waitOutput polls buf until it contains want or the deadline passes.
func waitOutput(t *testing.T, buf *syncBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(buf.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("output never contained %q:\n%s", want, buf.String())
		}
		time.Sleep(20 * time.Millisecond) // polling a condition with a deadline
	}
}

func TestHistory_FollowPrintsNewAndChangedAttemptsUntilInterrupted(t *testing.T) {
	for _, asJSON := range []bool{false, true} {
		t.Run(map[bool]string{false: "table", true: "json"}[asJSON], func(t *testing.T) {
			tb := setup(t)
			tb.seed(t)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			args := []string{"schedulezero", "--api", tb.url}
			if asJSON {
				args = append(args, "--json")
			}
			args = append(args, "history", "--follow", "--schedule", "counter")
			var out, errb syncBuffer
			done := make(chan int, 1)
			go func() { done <- execute(ctx, args, &out, &errb) }()

			waitOutput(t, &out, "ex-9000")
			running := store.Execution{ID: "ex-7777", Attempt: 1, MaxAttempts: 1, ScheduleID: "counter", HandlerID: "dingaling", Method: "counter_test",
				Status: store.StatusRunning, StartedAt: apitest.Epoch.Add(time.Hour)}
			tb.b.AddExecution(running)
			waitOutput(t, &out, "ex-7777") // printed first while running
			finished := running
			finished.Status, finished.DurationMS, finished.Result = store.StatusSucceeded, 3, json.RawMessage(`{"success":true}`)
			tb.b.ClearExecutions(ctx)
			tb.b.AddExecution(finished)
			if asJSON {
				waitOutput(t, &out, `"duration_ms":3,`)
			} else {
				waitOutput(t, &out, "3.0ms")
			}
			cancel()
			select {
			case code := <-done:
				if code != 0 {
					t.Errorf("exit %d, want 0 after interrupt; stderr %s", code, errb.String())
				}
			case <-time.After(10 * time.Second):
				t.Fatal("history --follow did not stop after the context ended")
			}
			if n := strings.Count(out.String(), "ex-9000"); asJSON && n != 2 {
				t.Errorf("ex-9000 attempts printed %d times, want 2 (once each):\n%s", n, out.String())
			}
			if n := strings.Count(out.String(), "ex-7777"); asJSON && n != 2 {
				t.Errorf("ex-7777 printed %d times, want 2 (running, then success):\n%s", n, out.String())
			}
			if !asJSON && strings.Count(out.String(), "counter_test") != 6 {
				t.Errorf("want 6 rows (4 seeded, running, success):\n%s", out.String())
			}
		})
	}
}

func TestUnreachable_ExitCode5(t *testing.T) {
	var out, errb syncBuffer
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	code := execute(ctx, []string{"schedulezero", "--api", "unix:" + t.TempDir() + "/none.sock", "schedule", "list"}, &out, &errb)
	if code != exitUnreachable || !strings.Contains(errb.String(), "unreachable") {
		t.Errorf("exit %d, stderr %q; want %d and a message", code, errb.String(), exitUnreachable)
	}
}
