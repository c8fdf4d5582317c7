package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	sz "github.com/schedulezero/schedulezero/pkg/api"
	"github.com/schedulezero/schedulezero/pkg/store"
)

type execRecord = store.Execution

func stats(t *testing.T, a *api) sz.Stats {
	t.Helper()
	var st sz.Stats
	if _, err := a.do("GET", "/api/v1/stats", nil, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

func writeExecHandler(t *testing.T, dir, name string, concurrency int, methods map[string][]string) string {
	t.Helper()
	ms := map[string]any{}
	for m, cmd := range methods {
		ms[m] = map[string]any{"command": cmd}
	}
	b, _ := json.Marshal(map[string]any{"kind": "exec", "concurrency": concurrency, "methods": ms})
	path := filepath.Join(dir, name+".json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// Acceptance: kill -9 of the scheduler while 1,000 schedules exist and jobs
// run. After restart every schedule is there, every recorded execution is
// intact, and no attempt stays running: each is marked interrupted and
// retried by policy.
func TestKill9Scheduler_LosesNoScheduleAndNoExecution(t *testing.T) {
	d := newDeployment(t)
	sched, a := d.startScheduler(t)
	d.startHandler(t, a, "dingaling", "--kind", "dingaling", "--concurrency", "64")
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep command:", err)
	}
	slowCfg := writeExecHandler(t, d.dir, "slow", 4, map[string][]string{"nap": {sleep, "0.3"}})
	d.startHandler(t, a, "slow", "--config", slowCfg)

	// 1,000 schedules through the original's endpoint, as its scripts do;
	// 20 of them on a slow handler so that attempts are surely in flight.
	const n = 1000
	var wg sync.WaitGroup
	errs := make(chan error, n)
	work := make(chan int)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				body := map[string]any{
					"job_id": fmt.Sprintf("job-%04d", i), "handler_id": "dingaling", "job_method": "quick_aling", "job_params": map[string]any{},
					"trigger": map[string]any{"type": "interval", "seconds": 1},
				}
				if i < 20 {
					body["handler_id"], body["job_method"] = "slow", "nap"
				}
				if code, err := a.do("POST", "/api/schedule", body, nil); err != nil || code != 201 {
					errs <- fmt.Errorf("schedule %d: %d %w", i, code, err)
				}
			}
		}()
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	await(t, 60*time.Second, "2,000 successful executions", func() bool {
		return stats(t, a).ByStatus[store.StatusSucceeded] >= 2000
	})
	var list sz.ExecutionList
	if _, err := a.do("GET", "/api/v1/executions?status=success&limit=1000", nil, &list); err != nil {
		t.Fatal(err)
	}
	before := list.Executions
	if len(before) == 0 {
		t.Fatal("no executions listed before the crash")
	}

	sched.kill(syscall.SIGKILL)

	db, err := store.Open(d.db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := db.Check(ctx); err != nil {
		t.Fatalf("bbolt consistency after kill -9: %v", err)
	}
	scheds, err := db.ListSchedules(ctx)
	if err != nil || len(scheds) != n {
		t.Fatalf("after kill -9: %d schedules (err %v), want %d", len(scheds), err, n)
	}
	for _, r := range before {
		atts, err := db.GetExecution(ctx, r.ID)
		if err != nil {
			t.Fatalf("execution %s recorded before the crash: %v", r.ID, err)
		}
		if atts[r.Attempt-1].Status != store.StatusSucceeded {
			t.Fatalf("execution %s attempt %d changed to %s", r.ID, r.Attempt, atts[r.Attempt-1].Status)
		}
	}
	unfinished, err := db.Unfinished(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("kill -9 left %d unfinished attempts and %d checked records", len(unfinished), len(before))
	if len(unfinished) == 0 {
		t.Fatal("no attempt was in flight at the crash; the test proves nothing")
	}

	_, a = d.startScheduler(t)
	// Every attempt left in flight ends: interrupted, then retried.
	await(t, 60*time.Second, "every interrupted execution to finish", func() bool {
		for _, u := range unfinished {
			var out sz.ExecutionAttempts
			if _, err := a.do("GET", "/api/v1/executions/"+u.ID, nil, &out); err != nil {
				return false
			}
			atts := out.Attempts
			last := atts[len(atts)-1]
			if last.Status == store.StatusPending || last.Status == store.StatusRunning {
				return false
			}
			if u.Status == store.StatusRunning && atts[u.Attempt-1].Status != store.StatusInterrupted {
				t.Fatalf("execution %s attempt %d running at the crash is now %s, want interrupted", u.ID, u.Attempt, atts[u.Attempt-1].Status)
			}
		}
		return true
	})
	// And the schedules keep firing.
	base := stats(t, a).ByStatus[store.StatusSucceeded]
	await(t, 30*time.Second, "schedules to keep firing after restart", func() bool {
		return stats(t, a).ByStatus[store.StatusSucceeded] >= base+1000
	})
}

// Acceptance: a handler killed and restarted mid-job. The scheduler neither
// hangs nor runs the attempt twice, and the next job on that handler
// succeeds.
func TestHandlerKilledMidJob_NoHangNoDoubleRun(t *testing.T) {
	d := newDeployment(t)
	_, a := d.startScheduler(t)
	marks := filepath.Join(d.dir, "runs.txt")
	cfg := writeExecHandler(t, d.dir, "worker", 4, map[string][]string{
		"slow": {"/bin/sh", "-c", "echo run >> " + marks + "; sleep 30"},
		"fast": {"/bin/sh", "-c", "echo ok"},
	})
	endpoint := "ipc://" + filepath.Join(d.dir, "worker.sock")
	h := d.startHandler(t, a, "worker", "--config", cfg, "--endpoint", endpoint)

	type result struct {
		rec execRecord
		err error
		at  time.Duration
	}
	got := make(chan result, 1)
	begin := time.Now()
	go func() {
		var rec execRecord
		_, err := a.do("POST", "/api/v1/run", map[string]any{
			"handler_id": "worker", "job_method": "slow", "timeout": "3s", "max_attempts": 1,
		}, &rec)
		got <- result{rec, err, time.Since(begin)}
	}()
	await(t, 10*time.Second, "the slow job to start", func() bool {
		b, _ := os.ReadFile(marks)
		return strings.Count(string(b), "run") == 1
	})
	h.kill(syscall.SIGKILL)
	d.startHandler(t, a, "worker", "--config", cfg, "--endpoint", endpoint)

	var r result
	select {
	case r = <-got:
	case <-time.After(20 * time.Second):
		t.Fatal("the call to a killed handler hangs")
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.rec.Status == store.StatusSucceeded || r.rec.Attempt != 1 {
		t.Fatalf("attempt on the killed handler: %+v", r.rec)
	}
	t.Logf("attempt on the killed handler ended %s after %v: %s", r.rec.Status, r.at.Round(time.Millisecond), r.rec.Error)
	b, _ := os.ReadFile(marks)
	if runs := strings.Count(string(b), "run"); runs != 1 {
		t.Fatalf("the job ran %d times, want 1", runs)
	}
	var next execRecord
	if _, err := a.do("POST", "/api/v1/run", map[string]any{"handler_id": "worker", "job_method": "fast", "timeout": "10s"}, &next); err != nil {
		t.Fatal(err)
	}
	if next.Status != store.StatusSucceeded {
		t.Fatalf("next job after the restart: %+v", next)
	}
}
