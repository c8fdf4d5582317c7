package integration

import (
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	sz "github.com/schedulezero/schedulezero/pkg/api"
	"github.com/schedulezero/schedulezero/pkg/store"
)

// Misfire all, kill -9 during the catch-up: the scheduler is down for a
// few seconds, starts again and catches up on the outage's occurrences one
// run after the other; it is killed again after the second catch-up run
// started, and started again. Every occurrence of the outage still runs,
// once: the runs not yet started were recorded pending with the fire, not
// held in the killed engine's memory, and the one in flight is settled
// from the handler's journal. The first catch-up run queues behind the
// attempt of the first kill, still running when it is recovered, instead
// of being skipped by the overlap policy.
func TestKill9DuringMisfireAllCatchUp_EveryOccurrenceOfTheOutageRunsOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("an outage of seconds: not with -short")
	}
	d := newDeployment(t)
	sched, a := d.startScheduler(t)
	marks := filepath.Join(d.dir, "marks")
	start(t, d.dir, "recorder", "--name", "napper", "--scheduler", d.zmq, "--marks", marks,
		"--journal", filepath.Join(d.dir, "journal"), "--ping-interval", "300ms", "--endpoint", "ipc://"+filepath.Join(d.dir, "napper.sock"))
	awaitHandler(t, a, "napper")
	first := time.Now().Add(2 * time.Second).Truncate(time.Second)
	if _, err := a.do("POST", "/api/v1/schedules", map[string]any{
		"id": "catch-up", "handler_id": "napper", "job_method": "nap", "job_params": map[string]any{"ms": 300},
		"trigger":      map[string]any{"type": "interval", "seconds": 1, "start_time": first.Format(time.RFC3339)},
		"max_attempts": 1, "timeout": "30s",
		"policy": map[string]any{"misfire": "all", "grace_time": "300ms"},
	}, nil); err != nil {
		t.Fatal(err)
	}
	await(t, 20*time.Second, "two runs", func() bool { return len(countLines(t, marks)) >= 2 })
	sched.kill(syscall.SIGKILL)
	down := time.Now()
	time.Sleep(5 * time.Second) // the outage itself: the clock has to pass occurrences
	sched, _ = d.startScheduler(t)
	up := time.Now()
	before := len(countLines(t, marks))
	await(t, 20*time.Second, "the second catch-up run", func() bool { return len(countLines(t, marks)) >= before+2 })
	sched.kill(syscall.SIGKILL)
	_, a = d.startScheduler(t)

	var list sz.ExecutionList
	gap := func() (occ []int64, recs map[int64][]store.Execution) { // by Unix second
		if _, err := a.do("GET", "/api/v1/executions?schedule_id=catch-up&limit=1000", nil, &list); err != nil {
			t.Fatal(err)
		}
		recs = map[int64][]store.Execution{}
		for _, r := range list.Executions {
			recs[r.ScheduledAt.Unix()] = append(recs[r.ScheduledAt.Unix()], r)
		}
		for at := first; at.Before(up.Add(-time.Second)); at = at.Add(time.Second) {
			if at.After(down) {
				occ = append(occ, at.Unix())
			}
		}
		return occ, recs
	}
	ended := func() bool {
		occ, recs := gap()
		for _, at := range occ {
			if len(recs[at]) == 0 || slices.ContainsFunc(recs[at], func(r store.Execution) bool {
				return r.Status == store.StatusPending || r.Status == store.StatusRunning
			}) {
				return false
			}
		}
		return true
	}
	await(t, 30*time.Second, "every occurrence of the outage to end", ended)
	occ, recs := gap()
	if len(occ) < 3 {
		t.Fatalf("only %d occurrences in the outage: the test proves nothing", len(occ))
	}
	runs := countLines(t, marks)
	for _, at := range occ {
		switch rs := recs[at]; {
		case len(rs) != 1:
			t.Errorf("occurrence %s of the outage: %d executions, want 1", time.Unix(at, 0).Format(time.TimeOnly), len(rs))
		case rs[0].Status != store.StatusSucceeded:
			t.Errorf("occurrence %s of the outage ended %s: %s", time.Unix(at, 0).Format(time.TimeOnly), rs[0].Status, rs[0].Error)
		case runs[rs[0].ID] != 1:
			t.Errorf("occurrence %s of the outage ran %d times on the handler, want once", time.Unix(at, 0).Format(time.TimeOnly), runs[rs[0].ID])
		}
	}
	t.Logf("%d occurrences in the outage, each ran once across a kill -9 during their catch-up", len(occ))
}
