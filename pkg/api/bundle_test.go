package api_test

// The API server over a fresh fake Backend that the tests of this package
// share, its seed and the golden-file check.

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/api"
	"github.com/schedulezero/schedulezero/pkg/api/apitest"
	"github.com/schedulezero/schedulezero/pkg/scheduler/schedtype"
	"github.com/schedulezero/schedulezero/pkg/store"
)

// testBundle is one API server over a fresh Backend.
type testBundle struct {
	b   *apitest.Backend
	srv *httptest.Server
}

func setup(t testing.TB, opts api.Options) *testBundle {
	t.Helper()
	b := apitest.NewBackend()
	b.AddHandler(schedtype.HandlerStatus{
		Handler: store.Handler{ID: "dingaling", Address: "tcp://127.0.0.1:4247", Methods: []string{"counter_test", "ping", "quick_aling"},
			Status: "online", Protocol: 2, Concurrency: 4, FirstSeen: apitest.Epoch, LastSeen: apitest.Epoch},
		LatencyMS: 1.5, ErrorRate: 0.25,
	})
	opts.Backend = b
	srv := httptest.NewServer(api.New(opts))
	t.Cleanup(srv.Close)
	return &testBundle{b: b, srv: srv}
}

func (tb *testBundle) do(t testing.TB, method, path, body string, hdr ...string) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, tb.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := tb.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusNoContent && resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("%s %s: Content-Type %q, want application/json", method, path, resp.Header.Get("Content-Type"))
	}
	return resp.StatusCode, out
}

// seed adds one schedule and two executions (one success, one error).
func seed(t testing.TB, tb *testBundle) {
	t.Helper()
	code, body := tb.do(t, "POST", "/api/schedule", `{"handler_id":"dingaling","job_method":"counter_test","job_params":{"increment":5},"trigger":{"type":"interval","seconds":3},"job_id":"counter"}`)
	if code != http.StatusCreated {
		t.Fatalf("seed schedule: %d %s", code, body)
	}
	if code, body := tb.do(t, "POST", "/api/v1/schedules/counter/run", ""); code != http.StatusAccepted {
		t.Fatalf("seed run: %d %s", code, body)
	}
	tb.b.AddExecution(store.Execution{ID: "ex-9000", Attempt: 1, MaxAttempts: 3, ScheduleID: "counter", HandlerID: "dingaling",
		Method: "counter_test", Status: store.StatusFailed, StartedAt: apitest.Epoch.Add(time.Minute),
		CompletedAt: apitest.Epoch.Add(time.Minute + 30*time.Millisecond), DurationMS: 30, Error: "boom"})
	tb.b.AddExecution(store.Execution{ID: "ex-9000", Attempt: 2, MaxAttempts: 3, ScheduleID: "counter", HandlerID: "dingaling",
		Method: "counter_test", Status: store.StatusSucceeded, StartedAt: apitest.Epoch.Add(2 * time.Minute),
		CompletedAt: apitest.Epoch.Add(2*time.Minute + 10*time.Millisecond), DurationMS: 10, Result: json.RawMessage(`{"success":true,"counter":2}`)})
	tb.b.AddExecution(store.Execution{ID: "ex-9001", Attempt: 1, ScheduleID: "counter", HandlerID: "dingaling",
		Method: "counter_test", Status: store.StatusMissed, ScheduledAt: apitest.Epoch.Add(3 * time.Minute),
		CompletedAt: apitest.Epoch.Add(3 * time.Minute), Error: "the previous run was still running (overlap policy skip)"})
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Indent(&buf, got, "", "  "); err != nil {
		t.Fatalf("response is not JSON: %v: %s", err, got)
	}
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("%s mismatch:\n got: %s\nwant: %s", path, buf.Bytes(), want)
	}
}
