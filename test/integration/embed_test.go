package integration

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	sz "github.com/schedulezero/schedulezero/pkg/api"
	"github.com/schedulezero/schedulezero/pkg/store"
)

// Acceptance (#20, in-process): the scheduler binary with --embed and no
// other process runs schedules, honours an exec method's timeout, a
// handler's concurrency and cancel, lists the handlers online, refuses a
// handler process under an embedded name, and stops cleanly, leaving them
// offline.
func TestEmbedded_OneProcess(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh:", err)
	}
	d := newDeployment(t)
	conf := filepath.Join(d.dir, "handlers")
	if err := os.Mkdir(conf, 0o755); err != nil {
		t.Fatal(err)
	}
	pids := filepath.Join(d.dir, "pids")
	marks := filepath.Join(d.dir, "marks")
	writeJSON(t, filepath.Join(conf, "worker.json"), map[string]any{
		"kind": "exec", "concurrency": 2,
		"methods": map[string]any{
			// Killed by its own timeout: the attempt ends "timeout".
			"nap": map[string]any{"command": []string{sh, "-c", "echo $$ >> " + pids + "; exec sleep 30"}, "timeout": "300ms"},
			// Two at a time at most (concurrency 2).
			"turn": map[string]any{"command": []string{sh, "-c", "echo start >> " + marks + "; sleep 0.3; echo end >> " + marks}},
			// Canceled by the next fire (overlap replace).
			"hold": map[string]any{"command": []string{sh, "-c", "echo $$ >> " + pids + ".hold; exec sleep 30"}},
		},
	})
	sched, a := d.startScheduler(t, "--embed", "dingaling,exec:worker", "--handler-config-dir", conf)
	awaitHandler(t, a, "dingaling")
	awaitHandler(t, a, "worker")

	var hs sz.HandlerList
	if _, err := a.do("GET", "/api/v1/handlers", nil, &hs); err != nil {
		t.Fatal(err)
	}
	for _, h := range hs.Handlers {
		if want := "inproc://" + h.ID; h.Address != want || h.Concurrency == 0 {
			t.Errorf("handler %s: address %q concurrency %d, want %q", h.ID, h.Address, h.Concurrency, want)
		}
	}

	t.Run("schedules succeed", func(t *testing.T) {
		body := map[string]any{"job_id": "embedded-quick", "handler_id": "dingaling", "job_method": "quick_aling",
			"job_params": map[string]any{}, "trigger": map[string]any{"type": "interval", "seconds": 1}}
		if code, err := a.do("POST", "/api/schedule", body, nil); err != nil || code != 201 {
			t.Fatalf("schedule: %d %v", code, err)
		}
		await(t, 20*time.Second, "3 successful executions", func() bool {
			return stats(t, a).ByStatus[store.StatusSucceeded] >= 3
		})
		if _, err := a.do("DELETE", "/api/v1/schedules/embedded-quick", nil, nil); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("method timeout kills the command", func(t *testing.T) {
		var rec execRecord
		if _, err := a.do("POST", "/api/v1/run", map[string]any{"handler_id": "worker", "job_method": "nap",
			"timeout": "20s", "max_attempts": 1}, &rec); err != nil {
			t.Fatal(err)
		}
		if rec.Status != store.StatusTimedOut {
			t.Fatalf("nap: %s (%s), want %s", rec.Status, rec.Error, store.StatusTimedOut)
		}
		b, _ := os.ReadFile(pids)
		pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		if pid <= 0 || syscall.Kill(pid, 0) == nil {
			t.Fatalf("the timed-out command (pid %q) is still running", b)
		}
	})

	t.Run("concurrency", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make(chan error, 5)
		for range 5 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var rec execRecord
				_, err := a.do("POST", "/api/v1/run", map[string]any{"handler_id": "worker", "job_method": "turn", "timeout": "20s"}, &rec)
				if err == nil && rec.Status != store.StatusSucceeded {
					err = &runError{rec}
				}
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		b, _ := os.ReadFile(marks)
		running, most := 0, 0
		for _, l := range strings.Fields(string(b)) {
			if l == "start" {
				running++
			} else {
				running--
			}
			most = max(most, running)
		}
		if most != 2 {
			t.Fatalf("at most %d commands ran at once, want 2 (the handler's concurrency): %q", most, b)
		}
	})

	t.Run("cancel", func(t *testing.T) {
		body := map[string]any{"id": "embedded-hold", "handler_id": "worker", "job_method": "hold",
			"trigger": map[string]any{"type": "interval", "seconds": 1}, "max_attempts": 1, "timeout": "60s",
			"policy": map[string]any{"overlap": "replace"}}
		if _, err := a.do("POST", "/api/v1/schedules", body, nil); err != nil {
			t.Fatal(err)
		}
		var first string
		await(t, 20*time.Second, "a second fire to replace the first", func() bool {
			b, _ := os.ReadFile(pids + ".hold")
			f := strings.Fields(string(b))
			if len(f) >= 2 {
				first = f[0]
			}
			return first != ""
		})
		if _, err := a.do("DELETE", "/api/v1/schedules/embedded-hold", nil, nil); err != nil {
			t.Fatal(err)
		}
		await(t, 10*time.Second, "a cancelled execution", func() bool {
			return stats(t, a).ByStatus[store.StatusCancelled] >= 1
		})
		pid, _ := strconv.Atoi(first)
		await(t, 10*time.Second, "the cancelled command to be killed", func() bool {
			return pid > 0 && syscall.Kill(pid, 0) != nil
		})
	})

	t.Run("a handler process under an embedded name is refused", func(t *testing.T) {
		out, err := exec.Command(filepath.Join(binDir, "schedulezero-handler"), "--name", "dingaling", "--kind", "dingaling",
			"--scheduler", d.zmq, "--endpoint", "ipc://"+filepath.Join(d.dir, "intruder.sock")).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "runs inside the scheduler") {
			t.Fatalf("handler process named dingaling: %v\n%s", err, out)
		}
	})

	sched.kill(syscall.SIGTERM)
	if code := sched.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("scheduler exit code %d after SIGTERM", code)
	}
	log, _ := os.ReadFile(sched.log)
	if strings.Contains(string(log), "level=ERROR") {
		t.Errorf("errors logged on stop:\n%s", tail(string(log), 20))
	}
	// The store says what a handler process would have left: offline.
	_, a = d.startScheduler(t)
	if _, err := a.do("GET", "/api/v1/handlers", nil, &hs); err != nil {
		t.Fatal(err)
	}
	if len(hs.Handlers) != 2 {
		t.Fatalf("handlers after restart: %+v", hs.Handlers)
	}
	for _, h := range hs.Handlers {
		if h.Status != "offline" {
			t.Errorf("handler %s is %s after the scheduler stopped, want offline", h.ID, h.Status)
		}
	}
}

type runError struct{ rec execRecord }

func (e *runError) Error() string { return string(e.rec.Status) + ": " + e.rec.Error }

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
