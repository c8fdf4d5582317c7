package integration

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/scheduler"
	"github.com/schedulezero/schedulezero/pkg/store"
	"github.com/schedulezero/schedulezero/pkg/wire/wiretest"
)

// Chaos, the acceptance of effectively-once: 100 kill -9 of the scheduler
// (10 under -short) while 1,000 schedules fire, 900 on a Go handler with a
// journal and 100 on the original's Python handler, and every tenth time
// the Go handler killed -9 too. Each job appends its execution id to a
// marks file, so the marks count the runs. Afterwards:
//
//   - Go handler: every execution ran exactly once (0 twice, 0 lost: each
//     success has its one mark, each mark is a recorded success), and
//     some outcomes were recovered from the handler, or the test proved
//     nothing;
//   - Python handler: today's at-least-once rule: every execution
//     succeeded, each success has at least one mark, an attempt running
//     at a crash was interrupted and retried, and none was "recovered";
//   - nothing stuck: no attempt is left pending or running.
//
// The Go handler is killed once the jobs it was running have ended (its
// "job started" and "job finished" lines match): a job killed with its
// handler never finished, and running it again is the retry of a run
// that did not happen, not a duplicate (docs/scheduling.md, "Effectively
// once", says so and the other limits).
func TestChaos_Kill9UnderLoad_GoHandlersRunNothingTwice(t *testing.T) {
	kills := 100
	if testing.Short() {
		kills = 10
	}
	py := wiretest.Python(t)
	begin := time.Now()
	d := newDeployment(t)
	sched, a := d.startScheduler(t)

	goMarks, pyMarks := filepath.Join(d.dir, "go-marks"), filepath.Join(d.dir, "py-marks")
	cfg := writeExecHandler(t, d.dir, "worker", 32, map[string][]string{
		"mark": {"/bin/sh", "-c", `echo "$SZ_EXECUTION_ID" >> ` + goMarks},
	})
	journal := filepath.Join(d.dir, "journal")
	workerArgs := []string{"--name", "worker", "--scheduler", d.zmq, "--config", cfg, "--journal", journal,
		"--endpoint", "ipc://" + filepath.Join(d.dir, "worker.sock"), "--log-level", "debug"}
	worker := start(t, d.dir, "schedulezero-handler", workerArgs...)
	awaitHandler(t, a, "worker")
	startPythonHandler(t, py, d, "py", pyMarks)
	awaitHandler(t, a, "py")

	// 1,000 schedules every 10 s, their first fires spread over those 10 s:
	// 100 fires a second.
	const n, every = 1000, 10 * time.Second
	first := time.Now().Add(time.Second)
	forEach(t, n, func(i int) error {
		handler, method, params := "worker", "mark", map[string]any{}
		if i%10 == 0 {
			// 50 ms a job: the serial Python handler is busy half the
			// time, so that kills find its attempts in flight.
			handler, method, params = "py", "quick_aling", map[string]any{"sleep": 0.05}
		}
		_, err := a.do("POST", "/api/v1/schedules", map[string]any{
			"id": fmt.Sprintf("chaos-%04d", i), "handler_id": handler, "job_method": method, "job_params": params,
			"trigger": map[string]any{"type": "interval", "seconds": every.Seconds(),
				"start_time": first.Add(time.Duration(i) * every / n).Format(time.RFC3339Nano)},
			"timeout": "30s", "max_attempts": 5, "policy": map[string]any{"backoff": "100ms", "backoff_max": "1s"},
		}, nil)
		return err
	})
	t.Logf("1,000 schedules created in %v", time.Since(begin).Round(time.Millisecond))

	for k := range kills {
		// Let jobs flow, then kill at a random moment of the flow.
		base := stats(t, a).ByStatus[store.StatusSucceeded]
		await(t, 30*time.Second, "executions to succeed between kills", func() bool {
			return stats(t, a).ByStatus[store.StatusSucceeded] >= base+20
		})
		time.Sleep(rand.N(150 * time.Millisecond)) // the kill's moment, at random
		sched.kill(syscall.SIGKILL)
		if k%10 == 9 {
			q := quiescence{path: worker.log}
			await(t, 20*time.Second, "the worker's running jobs to end", q.reached)
			worker.kill(syscall.SIGKILL)
			worker = start(t, d.dir, "schedulezero-handler", workerArgs...)
		}
		sched, a = d.startScheduler(t)
	}
	chaos := time.Since(begin)

	// Stop the fires, let every execution end, and read the whole history.
	forEach(t, n, func(i int) error {
		_, err := a.do("POST", fmt.Sprintf("/api/v1/schedules/chaos-%04d/pause", i), nil, nil)
		return err
	})
	await(t, 90*time.Second, "every execution to end", func() bool {
		st := stats(t, a)
		return st.ByStatus[store.StatusPending]+st.ByStatus[store.StatusRunning] == 0
	})
	sched.kill(syscall.SIGTERM)
	db, err := store.Open(d.db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	all, err := db.ListExecutions(ctx, store.ExecutionFilter{})
	if err != nil {
		t.Fatal(err)
	}
	scheds, err := db.ListSchedules(ctx)
	if err != nil || len(scheds) != n {
		t.Fatalf("%d schedules (err %v), want %d", len(scheds), err, n)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	execs := map[string][]store.Execution{}
	for _, r := range all {
		if r.Status == store.StatusMissed {
			continue // an occurrence missed while the scheduler was down: never sent
		}
		execs[r.ID] = append(execs[r.ID], r)
	}
	goRuns, pyRuns := countLines(t, goMarks), countLines(t, pyMarks)
	var c struct{ goExecs, pyExecs, recovered, goRetried, pyInterrupted, pyTwice int }
	for id, atts := range execs {
		last := atts[0]
		for _, r := range atts {
			if r.Attempt > last.Attempt {
				last = r
			}
			switch {
			case r.Status == store.StatusPending || r.Status == store.StatusRunning:
				t.Errorf("stuck: execution %s attempt %d is %s", id, r.Attempt, r.Status)
			case r.Note == scheduler.NoteRecovered && r.HandlerID == "py":
				t.Errorf("execution %s on the Python handler was %q; it cannot be asked", id, r.Note)
			case r.Note == scheduler.NoteRecovered:
				c.recovered++
			case r.Status == store.StatusInterrupted && r.HandlerID == "py":
				c.pyInterrupted++
			}
		}
		if last.Status != store.StatusSucceeded {
			t.Errorf("lost: execution %s on %s ended %s after %d attempts: %s", id, last.HandlerID, last.Status, last.Attempt, last.Error)
		}
		switch runs := goRuns[id] + pyRuns[id]; {
		case last.HandlerID == "worker":
			c.goExecs++
			if last.Attempt > 1 {
				c.goRetried++
			}
			if runs != 1 {
				t.Errorf("execution %s ran %d times on the Go handler, want once: %s", id, runs, describe(atts))
			}
		default:
			c.pyExecs++
			if runs == 0 && last.Status == store.StatusSucceeded {
				t.Errorf("execution %s succeeded on the Python handler without running", id)
			}
			if runs > 1 {
				c.pyTwice++
			}
		}
	}
	for id := range goRuns {
		if _, ok := execs[id]; !ok {
			t.Errorf("lost: the Go handler ran %s, which the history does not have", id)
		}
	}
	for id := range pyRuns {
		if _, ok := execs[id]; !ok {
			t.Errorf("lost: the Python handler ran %s, which the history does not have", id)
		}
	}
	t.Logf("%d kills of the scheduler (%d with the Go handler) in %v, %v in all", kills, kills/10,
		chaos.Round(time.Millisecond), time.Since(begin).Round(time.Millisecond))
	t.Logf("Go handler: %d executions, each run once; %d attempts recovered from its journal, %d executions retried (unknown to it)",
		c.goExecs, c.recovered, c.goRetried)
	t.Logf("Python handler: %d executions, %d attempts interrupted and retried, %d executions ran twice (at-least-once)",
		c.pyExecs, c.pyInterrupted, c.pyTwice)
	if c.recovered == 0 {
		t.Error("no attempt was recovered from the Go handler: no kill hit an attempt in flight, the test proves nothing")
	}
	if c.pyInterrupted == 0 {
		t.Error("no attempt on the Python handler was interrupted: its rule was not exercised")
	}
}

// quiescence tells when the handler whose debug log is at path has ended
// every job it started and has started none for a moment. Equal counts
// alone are not enough: the killed scheduler's last requests can still be
// unread in the handler's socket, and one started after the counts matched
// would be killed mid-run, unjournaled, and rightly run again. Nothing
// signals that a dead peer's bytes are all read, so no job may have
// started for quietFor.
type quiescence struct {
	path    string
	started int
	changed time.Time
}

const quietFor = 300 * time.Millisecond

func (q *quiescence) reached() bool {
	b, err := os.ReadFile(q.path)
	if err != nil {
		return false
	}
	s := string(b)
	started := strings.Count(s, `msg="job started"`)
	if started != q.started || q.changed.IsZero() {
		q.started, q.changed = started, time.Now()
		return false
	}
	return started == strings.Count(s, `msg="job finished"`) && time.Since(q.changed) >= quietFor
}

// forEach runs fn for 0..n-1 on 8 workers and fails the test on an error.
func forEach(t *testing.T, n int, fn func(i int) error) {
	t.Helper()
	work := make(chan int)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				if err := fn(i); err != nil {
					errs <- err
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
}

// countLines counts the lines of a marks file by content.
func countLines(t *testing.T, path string) map[string]int {
	t.Helper()
	out := map[string]int{}
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return out
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			out[l]++
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// startPythonHandler runs the handler written like the original's
// (pkg/wire's testdata) as handler name, appending the execution id of
// each job it serves to marks, until the test ends.
func startPythonHandler(t *testing.T, py string, d deployment, name, marks string) {
	t.Helper()
	logPath := filepath.Join(d.dir, name+".log")
	lf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(py, filepath.Join("..", "..", "pkg", "wire", "testdata", "original_handler.py"),
		d.zmq, "ipc://"+filepath.Join(d.dir, name+".sock"), name, marks)
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdin, err := cmd.StdinPipe() // the handler stops at its EOF
	if err != nil {
		lf.Close()
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		lf.Close()
		t.Fatal(err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); lf.Close(); close(p.done) }()
	t.Cleanup(func() {
		stdin.Close()
		p.kill(syscall.SIGKILL)
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("%s log:\n%s", name, tail(string(b), 20))
		}
	})
}
