package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/schedulezero/schedulezero/pkg/api"
	"github.com/schedulezero/schedulezero/pkg/api/apitest"
	"github.com/schedulezero/schedulezero/pkg/scheduler/schedtype"
	"github.com/schedulezero/schedulezero/pkg/store"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// TestMain pins the local zone, which the tables print times in, so that
// the golden files hold on any host.
func TestMain(m *testing.M) {
	time.Local = time.UTC
	goleak.VerifyTestMain(m)
}

// testBundle is an API server over a seeded in-memory Backend.
type testBundle struct {
	b   *apitest.Backend
	url string
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	b := apitest.NewBackend()
	b.AddHandler(schedtype.HandlerStatus{
		Handler: store.Handler{ID: "dingaling", Address: "ipc:///run/sz/dingaling.sock", Methods: []string{"counter_test", "ping", "quick_aling"},
			Status: "online", LastSeen: apitest.Epoch},
		InFlight: 1, LatencyMS: 2.25, ErrorRate: 0.1,
	})
	srv := httptest.NewServer(api.New(api.Options{Backend: b, Events: b.Events}))
	t.Cleanup(srv.Close)
	return &testBundle{b: b, url: srv.URL}
}

// seed adds two schedules and three attempts.
func (tb *testBundle) seed(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	for _, r := range []schedtype.ScheduleRequest{
		{ID: "counter", HandlerID: "dingaling", Method: "counter_test", Params: json.RawMessage(`{"increment":5}`), Trigger: json.RawMessage(`{"type":"interval","seconds":3}`), MaxAttempts: 3, Timeout: 30 * time.Second},
		{ID: "nightly", HandlerID: "dingaling", Method: "quick_aling", Trigger: json.RawMessage(`{"type":"cron","expr":"0 3 * * *"}`), Timezone: "Europe/Paris"},
	} {
		if _, err := tb.b.AddSchedule(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tb.b.TriggerSchedule(ctx, "counter", false); err != nil {
		t.Fatal(err)
	}
	tb.b.AddExecution(store.Execution{ID: "ex-9000", Attempt: 1, MaxAttempts: 3, ScheduleID: "counter", HandlerID: "dingaling", Method: "counter_test",
		Status: store.StatusTimedOut, StartedAt: apitest.Epoch.Add(time.Minute), DurationMS: 30000, Error: "no reply within 30s"})
	tb.b.AddExecution(store.Execution{ID: "ex-9000", Attempt: 2, MaxAttempts: 3, ScheduleID: "counter", HandlerID: "dingaling", Method: "counter_test",
		Status: store.StatusSucceeded, StartedAt: apitest.Epoch.Add(2 * time.Minute), DurationMS: 8.5, Result: json.RawMessage(`{"success":true,"counter":7}`)})
	tb.b.AddExecution(store.Execution{ID: "ex-9001", Attempt: 1, ScheduleID: "counter", HandlerID: "dingaling", Method: "counter_test",
		Status: store.StatusMissed, ScheduledAt: apitest.Epoch.Add(3 * time.Minute), CompletedAt: apitest.Epoch.Add(3 * time.Minute),
		Error: "the previous run was still running (overlap policy skip)"})
	// The policy goes through the API, as a user would set it.
	if _, err := tb.b.UpdateSchedule(ctx, "nightly", schedtype.ScheduleUpdate{Policy: &store.Policy{
		Misfire: store.MisfireAll, MisfireLimit: 5, Overlap: store.OverlapQueue, GraceTime: time.Minute, RetryOn: []string{store.RetryOnTimeout},
	}}); err != nil {
		t.Fatal(err)
	}
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testClock pins the commands' "now" and local zone.
var testClock = clock{now: func() time.Time { return apitest.Epoch }, loc: time.UTC}

// cli runs the CLI against the bundle's server and returns stdout, stderr
// and the exit code.
func (tb *testBundle) cli(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out, errb syncBuffer
	full := append([]string{"schedulezero", "--api", tb.url}, args...)
	app := newApp(&out, &errb)
	app.Metadata[clockKey] = testClock
	code := executeApp(ctx, app, full, &errb)
	return out.String(), errb.String(), code
}

// golden compares a transcript of one CLI run with testdata/name.golden.
func golden(t *testing.T, name string, args []string, stdout, stderr string, code int) {
	t.Helper()
	got := "$ schedulezero " + strings.Join(args, " ") + "\n" + stdout
	if stderr != "" {
		got += "--- stderr\n" + stderr
	}
	got += "--- exit " + strconv.Itoa(code) + "\n"
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if got != string(want) {
		t.Errorf("%s mismatch:\n--- got\n%s--- want\n%s", path, got, want)
	}
}

// cliCase is one row of the per-command golden tables.
type cliCase struct {
	name string
	args []string
	seed bool
	code int
}

func runGolden(t *testing.T, tests []cliCase) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tb := setup(t)
			if tc.seed {
				tb.seed(t)
			}
			out, errOut, code := tb.cli(t, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, out, errOut)
			}
			golden(t, tc.name, tc.args, out, errOut, code)
		})
	}
}
