package main

import (
	"strings"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/api/apitest"
	"github.com/schedulezero/schedulezero/pkg/store"
)

// history show says which instance of a pool ran each attempt, and its
// JSON carries the API's fields.
func TestHistoryShow_Instance(t *testing.T) {
	tb := setup(t)
	for _, e := range []store.Execution{
		{ID: "ex-8", Attempt: 1, MaxAttempts: 2, ScheduleID: "mark", HandlerID: "pool", Method: "mark", Status: store.StatusFailed,
			ScheduledAt: apitest.Epoch, StartedAt: apitest.Epoch, CompletedAt: apitest.Epoch.Add(time.Second), Error: "exit status 1",
			Instance: "a", Host: "web-1"},
		{ID: "ex-8", Attempt: 2, MaxAttempts: 2, ScheduleID: "mark", HandlerID: "pool", Method: "mark", Status: store.StatusSucceeded,
			ScheduledAt: apitest.Epoch, StartedAt: apitest.Epoch.Add(2 * time.Second), CompletedAt: apitest.Epoch.Add(3 * time.Second),
			Instance: "b", Host: "web-2"},
	} {
		tb.b.AddExecution(e)
	}
	out, errOut, code := tb.cli(t, "history", "show", "ex-8")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"  instance:  a on web-1\n", "  instance:  b on web-2\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	out, errOut, code = tb.cli(t, "history", "show", "ex-8", "--json")
	if code != 0 || !strings.Contains(out, `"instance": "b"`) || !strings.Contains(out, `"host": "web-2"`) {
		t.Fatalf("exit %d %s; JSON lacks the instance:\n%s", code, errOut, out)
	}
}

func TestInstanceText(t *testing.T) {
	for _, tt := range []struct{ id, host, want string }{
		{"", "", ""}, {"a", "", "a"}, {"", "web-1", "on web-1"}, {"a", "web-1", "a on web-1"},
	} {
		if got := instanceText(tt.id, tt.host); got != tt.want {
			t.Errorf("instanceText(%q, %q) = %q, want %q", tt.id, tt.host, got, tt.want)
		}
	}
}
