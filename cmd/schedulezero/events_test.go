package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/store"
)

func TestEvents_PrintsWhatIsHeldAndExits(t *testing.T) {
	tb := setup(t)
	tb.seed(t)
	tests := []struct {
		name     string
		args     []string
		code     int
		want     []string
		wantNot  []string
		wantRows int // lines of output, header included; -1: not checked
	}{
		{name: "all", args: []string{"events"}, want: []string{"TIME", "execution.finished", "execution.missed", "ex-9000", "timeout", "no reply within 30s"}, wantRows: 4},
		{name: "kind", args: []string{"events", "--kind", "execution.missed"}, want: []string{"ex-9001"}, wantNot: []string{"ex-9000"}, wantRows: 2},
		{name: "kind prefix and schedule", args: []string{"events", "--kind", "execution.", "--schedule", "nightly"}, wantNot: []string{"ex-"}, wantRows: 1},
		{name: "json", args: []string{"--json", "events", "--kind", "execution.missed"}, want: []string{`"id":"`, `"kind":"execution.missed"`, `"execution_id":"ex-9001"`}, wantRows: 1},
		{name: "bad kind", args: []string{"events", "--kind", "exec"}, code: exitUsage, wantRows: -1},
		{name: "stray argument", args: []string{"events", "x"}, code: exitUsage, wantRows: -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := tb.cli(t, tt.args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stderr %s", code, tt.code, errOut)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tt.wantNot {
				if strings.Contains(out, w) {
					t.Errorf("output has %q:\n%s", w, out)
				}
			}
			if n := strings.Count(out, "\n"); tt.wantRows >= 0 && n != tt.wantRows {
				t.Errorf("%d lines, want %d:\n%s", n, tt.wantRows, out)
			}
		})
	}
}

func TestEvents_FollowPrintsNewEventsUntilInterrupted(t *testing.T) {
	tb := setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- execute(ctx, []string{"schedulezero", "--api", tb.url, "--json", "events", "--follow"}, &out, &errb)
	}()
	// Published until the follower has seen one: it may subscribe late.
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "ex-1") {
		if time.Now().After(deadline) {
			t.Fatalf("no event printed:\n%s\n%s", out.String(), errb.String())
		}
		tb.b.AddExecution(store.Execution{ID: "ex-1", Attempt: 1, ScheduleID: "s", HandlerID: "dingaling", Method: "ping", Status: store.StatusSucceeded})
		time.Sleep(50 * time.Millisecond) // polling a condition with a deadline
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d after interrupt; stderr %s", code, errb.String())
	}
	first, _, _ := strings.Cut(out.String(), "\n")
	var ev streamedEvent
	if err := json.Unmarshal([]byte(first), &ev); err != nil || ev.ID == "" || ev.ExecutionID != "ex-1" {
		t.Fatalf("first line %q (%v), want an event of ex-1 with its id", first, err)
	}
}
