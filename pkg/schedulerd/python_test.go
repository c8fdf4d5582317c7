package schedulerd_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/schedulerd"
	"github.com/schedulezero/schedulezero/pkg/wire/wiretest"
)

// startPython runs the handler written like the original's (pkg/wire's
// testdata) against the daemon until the test ends; it counts every request
// it serves.
func startPython(t *testing.T, zmq, dir string, env ...string) {
	t.Helper()
	py := wiretest.Python(t)
	ctx, cancel := context.WithCancel(context.Background())
	args := []string{filepath.Join("..", "wire", "testdata", "original_handler.py"), zmq, "ipc://" + filepath.Join(dir, "py.sock"), "py-handler"}
	if len(env) > 0 { // over CURVE: the same script, its sockets given keys
		args = append([]string{filepath.Join("testdata", "curve_wrap.py")}, args...)
	}
	cmd := exec.CommandContext(ctx, py, args...)
	cmd.Env = append(cmd.Environ(), env...)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		stdin.Close() // the handler reports offline and exits
		kill := time.AfterFunc(10*time.Second, cancel)
		for range lines {
		}
		_ = cmd.Wait()
		kill.Stop()
		cancel()
	})
	select {
	case l := <-lines:
		if l != "READY registered" {
			t.Fatalf("handler said %q, stderr: %s", l, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("handler did not register within 15s, stderr: %s", stderr.String())
	}
}

// TestLegacy_OriginalPythonHandler runs the original's REST flows against a
// handler written like the original's: run_now, a method it does not expose
// (refused, not sent: its counter does not move), a one-shot date job that
// fires, leaves the list and is created again.
func TestLegacy_OriginalPythonHandler(t *testing.T) {
	r, zmq, dir := startDaemon(t, schedulerd.Options{})
	startPython(t, zmq, dir)

	var run struct {
		Status string `json:"status"`
		Result struct {
			Status  string `json:"status"`
			Counter int    `json:"counter"`
		} `json:"result"`
	}
	r.call(t, "POST", "/api/run_now", `{"handler_id":"py-handler","job_method":"counter_test","job_params":{"increment":2}}`, http.StatusOK, &run)
	if run.Status != "success" || run.Result.Status != "counted" || run.Result.Counter != 1 {
		t.Errorf("run_now: %+v", run)
	}
	resp, out := r.do(t, "POST", "/api/run_now", `{"handler_id":"py-handler","job_method":"triple_aling","job_params":{}}`)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(out), `"message":"Method 'triple_aling' not exposed by handler 'py-handler'"`) {
		t.Errorf("run_now of a method not exposed: %d %s", resp.StatusCode, out)
	}
	r.call(t, "POST", "/api/run_now", `{"handler_id":"py-handler","job_method":"quick_aling","job_params":{}}`, http.StatusOK, &run)
	if run.Result.Counter != 2 {
		t.Errorf("the handler served %d requests, want 2 (the refused one not sent)", run.Result.Counter)
	}

	once := func(at time.Time) string {
		return fmt.Sprintf(`{"handler_id":"py-handler","job_method":"quick_aling","job_params":{},"trigger":{"type":"date","run_date":%d},"job_id":"py-once"}`, at.Unix())
	}
	r.call(t, "POST", "/api/schedule", once(time.Now()), http.StatusCreated, nil)
	await(t, "the date job's run", func() bool {
		var l legacyRecords
		r.call(t, "GET", "/api/executions?job_id=py-once&status=success", "", http.StatusOK, &l)
		return l.Count == 1
	})
	var l legacySchedules
	r.call(t, "GET", "/api/schedules", "", http.StatusOK, &l)
	if l.has("py-once") {
		t.Errorf("the fired date job is still listed: %+v", l)
	}
	r.call(t, "POST", "/api/schedule", once(time.Now().Add(time.Hour)), http.StatusCreated, nil)
}
