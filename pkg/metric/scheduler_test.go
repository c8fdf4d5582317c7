package metric

import (
	"strings"
	"testing"

	"github.com/schedulezero/schedulezero/pkg/event"
)

// The engine's sentences map to the closed set of reasons, summed-up
// records count every occurrence they stand for.
func TestMissReason(t *testing.T) {
	for _, tc := range []struct {
		reason string
		want   string
		n      int
	}{
		{"the scheduler was not running", MissOutage, 1},
		{"the schedule was paused", MissPaused, 1},
		{"the engine fired late (clock jump or overload)", MissLate, 1},
		{"the previous run (01J) was still running (overlap policy skip; --force runs it anyway)", MissOverlap, 1},
		{"the previous run (01J) has not started: handler offline", MissOverlap, 1},
		{"the previous run (01J) was still running and the queue was full (10)", MissOverlap, 1},
		{`handler "h1" was removed (schedulezero handlers remove); add it again or delete the schedule`, MissHandlerRemoved, 1},
		{"7 more occurrences up to this one were missed too: the scheduler was not running", MissOutage, 7},
		{"1200 occurrences from 2026-01-01T00:00:00Z to this one did not run: the schedule was paused", MissPaused, 1200},
		{"something new", MissOther, 1},
	} {
		if got := MissReason(tc.reason); got != tc.want {
			t.Errorf("MissReason(%q) = %q, want %q", tc.reason, got, tc.want)
		}
		if got := missedCount(tc.reason); got != tc.n {
			t.Errorf("missedCount(%q) = %d, want %d", tc.reason, got, tc.n)
		}
	}
}

// A label value that needs escaping is escaped; a retry is an attempt but
// not an execution.
func TestScheduler_Observe(t *testing.T) {
	m := NewScheduler()
	h := `we"ird`
	m.Observe(event.Event{Kind: event.ExecutionStarted, HandlerID: h, ExecutionID: "x", Attempt: 1})
	m.Observe(event.Event{Kind: event.ExecutionFinished, HandlerID: h, ExecutionID: "x", Attempt: 1, Status: "error", DurationMS: 5})
	m.Observe(event.Event{Kind: event.ExecutionStarted, HandlerID: h, ExecutionID: "x", Attempt: 2})
	var b strings.Builder
	if err := m.Write(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		`schedulezero_attempts_total{handler="we\"ird",status="error"} 1`,
		"schedulezero_executions_in_flight 1",
		`schedulezero_execution_duration_seconds_bucket{handler="we\"ird",le="0.005"} 1`,
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("exposition lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "schedulezero_executions_total{") {
		t.Errorf("a retried attempt counted as an execution:\n%s", out)
	}
}
