package schedulerd_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/api"
	"github.com/schedulezero/schedulezero/pkg/client"
	"github.com/schedulezero/schedulezero/pkg/handler"
	"github.com/schedulezero/schedulezero/pkg/handler/dingaling"
	"github.com/schedulezero/schedulezero/pkg/schedulerd"
	"github.com/schedulezero/schedulezero/pkg/store"
)

// serveDingaling registers the dingaling runner, with a method
// "fail_aling" that always fails, "flaky_aling" that fails its first call
// and "notify.send" that records the notifications it is given, on the daemon at zmq until the test ends.
func serveDingaling(t *testing.T, zmq string) *notifyCalls {
	t.Helper()
	calls := &notifyCalls{}
	mux := handler.NewMux()
	mux.HandleFunc("notify.send", calls.send)
	dingaling.New(nil).Register(mux)
	mux.HandleFunc("fail_aling", func(context.Context, *handler.Job) (any, error) {
		return nil, errors.New("no bell")
	})
	var flaky atomic.Int64
	mux.HandleFunc("flaky_aling", func(context.Context, *handler.Job) (any, error) {
		if flaky.Add(1) == 1 {
			return nil, errors.New("first call fails")
		}
		return "a-ling!", nil
	})
	hctx, cancel := context.WithCancel(context.Background())
	ready, done := make(chan struct{}), make(chan error, 1)
	go func() {
		done <- handler.Serve(hctx, mux, handler.Options{Name: "dingaling", Endpoint: "ipc://" + filepath.Join(t.TempDir(), "h.sock"),
			Scheduler: zmq, ReadyFunc: func() { close(ready) }})
	}()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("handler: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("handler did not register within 10s")
	}
	return calls
}

// scrape gets /metrics with token and returns the exposition.
func scrape(t *testing.T, base, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	hc := &http.Client{Timeout: 5 * time.Second}
	defer hc.CloseIdleConnections()
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// series reads an exposition into series (name{labels}) and values.
func series(t *testing.T, text string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for line := range strings.Lines(text) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("series %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

// promtoolCheck runs promtool check metrics on the exposition, when
// promtool is installed (Debian package prometheus).
func promtoolCheck(t *testing.T, text string) {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		t.Log("promtool not installed (Debian package prometheus): the exposition's lint is not checked")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, "check", "metrics")
	cmd.Stdin = strings.NewReader(text)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("promtool check metrics: %v\n%s\n-- exposition --\n%s", err, out.String(), text)
	}
}

// The counters of a real scheduler agree with its history, while jobs
// succeed, fail (with a retry) and are missed (an outage), and the
// exposition passes promtool's lint; /metrics needs the API token.
func TestMetrics_CountersAgreeWithHistory(t *testing.T) {
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "sz.db")
	now := time.Now().UTC()
	// Down for ten minutes of a once-a-minute schedule: the start runs it
	// once and records the other occurrences missed.
	start := now.Add(-10*time.Minute + 30*time.Second)
	seed(t, dbPath, store.Schedule{ID: "outage", HandlerID: "dingaling", Method: "quick_aling",
		Trigger:  json.RawMessage(`{"type":"interval","seconds":60,"start_time":"` + start.Format(time.RFC3339Nano) + `"}`),
		NextFire: start, CreatedAt: start, UpdatedAt: start})

	const token = "metrics-test-token-0123456789abcdef"
	d := daemon(t, schedulerd.Options{DBPath: dbPath, Tokens: []string{token}, MinInterval: -1, Location: time.UTC})
	base := httpBase(d)
	if code, _ := scrape(t, base, ""); code != http.StatusUnauthorized {
		t.Fatalf("GET /metrics without the token: %d, want 401", code)
	}
	serveDingaling(t, d.ZMQAddr())

	c, err := client.New(base, client.WithToken(token), client.WithTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	for _, req := range []api.CreateScheduleRequest{
		{ID: "ok", HandlerID: "dingaling", Method: "quick_aling", Trigger: json.RawMessage(`{"type":"interval","seconds":0.1}`),
			Policy: &api.Policy{MaxRuns: 4}},
		{ID: "bad", HandlerID: "dingaling", Method: "fail_aling", Trigger: json.RawMessage(`{"type":"interval","seconds":0.2}`),
			MaxAttempts: 2, Policy: &api.Policy{MaxRuns: 3, Backoff: "10ms", BackoffMax: "10ms"}},
	} {
		if _, err := c.CreateSchedule(ctx, req); err != nil {
			t.Fatalf("create %s: %v", req.ID, err)
		}
	}

	var hist []store.Execution
	var m map[string]float64
	await(t, "both schedules done and nothing in flight", func() bool {
		_, text := scrape(t, base, token)
		m = series(t, text)
		if m[`schedulezero_schedules{state="done"}`] != 2 || m["schedulezero_executions_in_flight"] != 0 {
			return false
		}
		hist, err = c.Executions(ctx, client.ExecutionQuery{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range hist {
			if !e.Status.Finished() && e.Status != store.StatusMissed {
				return false
			}
		}
		// The outage's catch-up run ended too.
		n := 0
		for _, e := range hist {
			if e.ScheduleID == "outage" && e.Status == store.StatusSucceeded {
				n++
			}
		}
		return n == 1
	})
	_, text := scrape(t, base, token)
	m = series(t, text)
	promtoolCheck(t, text)
	documentedFamilies(t, text)

	attempts := map[store.Status]float64{}
	executions := map[store.Status]float64{}
	missed := 0.0
	for _, e := range hist {
		if e.Status == store.StatusMissed {
			missed++
			continue
		}
		attempts[e.Status]++
		if e.Status == store.StatusSucceeded || e.Attempt == e.MaxAttempts {
			executions[e.Status]++
		}
	}
	// A fire of "bad" while its retry runs is skipped (overlap), so it may
	// run fewer than its three fires; each run has two failed attempts.
	if executions[store.StatusFailed] < 2 || attempts[store.StatusFailed] != 2*executions[store.StatusFailed] || missed < 8 {
		t.Fatalf("history: attempts %v, executions %v, %v missed; want 2 failed attempts per failed execution, 2 or more, and the outage's misses", attempts, executions, missed)
	}
	for st, n := range attempts {
		if got := m[fmt.Sprintf(`schedulezero_attempts_total{handler="dingaling",status=%q}`, st)]; got != n {
			t.Errorf("attempts_total{status=%s} = %v, history has %v", st, got, n)
		}
	}
	for st, n := range executions {
		if got := m[fmt.Sprintf(`schedulezero_executions_total{handler="dingaling",status=%q}`, st)]; got != n {
			t.Errorf("executions_total{status=%s} = %v, history has %v", st, got, n)
		}
	}
	if got := m[`schedulezero_missed_total{handler="dingaling",reason="outage"}`]; got != missed {
		t.Errorf("missed_total{reason=outage} = %v, history has %v missed records", got, missed)
	}
	// Every fire is counted: the 4 + 3 runs and the outage's catch-up.
	if got := m[`schedulezero_fires_total{handler="dingaling"}`]; got < 8 {
		t.Errorf("fires_total = %v, want at least 8", got)
	}
	total := attempts[store.StatusSucceeded] + attempts[store.StatusFailed]
	if got := m[`schedulezero_execution_duration_seconds_count{handler="dingaling"}`]; got != total {
		t.Errorf("execution_duration_seconds_count = %v, want %v", got, total)
	}
	for _, name := range []string{`schedulezero_handler_up{handler="dingaling"}`, `schedulezero_schedules{state="active"}`} {
		if m[name] != 1 {
			t.Errorf("%s = %v, want 1", name, m[name])
		}
	}
	if m["schedulezero_store_commit_records_count"] == 0 || m["schedulezero_store_file_bytes"] == 0 {
		t.Errorf("store series missing: commits %v, file %v bytes", m["schedulezero_store_commit_records_count"], m["schedulezero_store_file_bytes"])
	}
}

// With --metrics=false there is no /metrics.
func TestMetrics_Disabled(t *testing.T) {
	d := daemon(t, schedulerd.Options{DisableMetrics: true})
	if code, _ := scrape(t, httpBase(d), ""); code != http.StatusNotFound {
		t.Fatalf("GET /metrics with metrics disabled: %d, want 404", code)
	}
}

// documentedFamilies fails for every family of the exposition that
// docs/metrics.md does not list.
func documentedFamilies(t *testing.T, text string) {
	t.Helper()
	doc, err := os.ReadFile("../../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(text) {
		if name, ok := strings.CutPrefix(line, "# TYPE "); ok {
			name, _, _ = strings.Cut(name, " ")
			if !strings.Contains(string(doc), "| `"+name+"` |") {
				t.Errorf("docs/metrics.md does not list %s", name)
			}
		}
	}
}
