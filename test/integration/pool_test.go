package integration

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/store"
)

// pool is one handler name served by two real processes, "a" on
// 127.0.0.1 and "b" on 127.0.0.2, each marking the attempts it runs
// ("EXECUTION ATTEMPT") in its own file, under a stream of fires.
type pool struct {
	d     deployment
	sched *proc
	a     *api
	procs map[string]*proc
	marks map[string]string
	name  string // the handler name; "" is "pool"
}

// poolPing is the instances' heartbeat: the scheduler routes around one
// silent for three of them.
const poolPing = 200 * time.Millisecond

func newPool(t *testing.T) *pool {
	t.Helper()
	d := newDeployment(t)
	sched, a := d.startScheduler(t)
	p := &pool{d: d, sched: sched, a: a, procs: map[string]*proc{}, marks: map[string]string{}}
	for inst, host := range map[string]string{"a": "127.0.0.1", "b": "127.0.0.2"} {
		p.marks[inst] = filepath.Join(d.dir, "marks-"+inst)
		cfg := writeExecHandler(t, d.dir, "pool-"+inst, 8, map[string][]string{
			"mark": {"/bin/sh", "-c", `echo "$SZ_EXECUTION_ID $SZ_ATTEMPT" >> ` + p.marks[inst] + `; sleep 0.3`},
		})
		p.procs[inst] = start(t, d.dir, "schedulezero-handler", "--name", "pool", "--instance", inst,
			"--label", "zone="+inst, "--config", cfg, "--scheduler", d.zmq, "--endpoint", "tcp://"+host+":0",
			"--ping-interval", poolPing.String())
	}
	p.awaitInstances(t, "both instances registered and healthy", func(in map[string]instanceJSON) bool {
		return in["a"].Healthy && in["b"].Healthy
	})
	// 20 schedules a second, 0.3 s a job: about six in flight.
	const n = 20
	first := time.Now().Add(500 * time.Millisecond)
	for i := range n {
		if _, err := a.do("POST", "/api/v1/schedules", map[string]any{
			"id": fmt.Sprintf("pool-%02d", i), "handler_id": "pool", "job_method": "mark",
			"trigger": map[string]any{"type": "interval", "seconds": 1,
				"start_time": first.Add(time.Duration(i) * time.Second / n).Format(time.RFC3339Nano)},
			"timeout": "2s", "max_attempts": 5, "policy": map[string]any{"backoff": "100ms", "backoff_max": "500ms"},
		}, nil); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

type instanceJSON struct {
	ID       string `json:"id"`
	Address  string `json:"address"`
	Healthy  bool   `json:"healthy"`
	InFlight int    `json:"in_flight"`
}

// instances returns pool's instances as GET /api/v1/handlers shows them.
func (p *pool) instances(t *testing.T) map[string]instanceJSON {
	t.Helper()
	var out struct {
		Handlers []struct {
			ID        string         `json:"id"`
			Instances []instanceJSON `json:"instances"`
		} `json:"handlers"`
	}
	if _, err := p.a.do("GET", "/api/v1/handlers", nil, &out); err != nil {
		t.Fatal(err)
	}
	name := p.name
	if name == "" {
		name = "pool"
	}
	m := map[string]instanceJSON{}
	for _, h := range out.Handlers {
		if h.ID == name {
			for _, in := range h.Instances {
				m[in.ID] = in
			}
		}
	}
	return m
}

func (p *pool) awaitInstances(t *testing.T, what string, cond func(map[string]instanceJSON) bool) {
	t.Helper()
	await(t, 20*time.Second, what, func() bool { return cond(p.instances(t)) })
}

// runs returns the attempts instance inst ran, "EXECUTION ATTEMPT" each.
func (p *pool) runs(t *testing.T, inst string) map[string]int {
	return countLines(t, p.marks[inst])
}

// finish pauses every schedule, waits for every execution to end, stops
// the scheduler and returns the history.
func (p *pool) finish(t *testing.T) []store.Execution {
	t.Helper()
	for i := range 20 {
		if _, err := p.a.do("POST", fmt.Sprintf("/api/v1/schedules/pool-%02d/pause", i), nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	await(t, 60*time.Second, "every execution to end", func() bool {
		st := stats(t, p.a)
		return st.ByStatus[store.StatusPending]+st.ByStatus[store.StatusRunning] == 0
	})
	p.sched.kill(syscall.SIGTERM)
	db, err := store.Open(p.d.db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	all, err := db.ListExecutions(context.Background(), store.ExecutionFilter{})
	if err != nil {
		t.Fatal(err)
	}
	return all
}

// checkOnce fails the test unless every execution of all ended (none
// pending or running), and no attempt ran twice (on one instance or on
// both): each attempt mark is unique.
func checkOnce(t *testing.T, all []store.Execution, runs ...map[string]int) {
	t.Helper()
	marks := map[string]int{}
	for _, r := range runs {
		for k, n := range r {
			marks[k] += n
		}
	}
	for k, n := range marks {
		if n > 1 {
			t.Errorf("attempt %q ran %d times", k, n)
		}
	}
	for _, r := range all {
		if r.Status == store.StatusPending || r.Status == store.StatusRunning {
			t.Errorf("execution %s attempt %d never ended: %s", r.ID, r.Attempt, r.Status)
		}
		if r.Status == store.StatusSucceeded && marks[fmt.Sprintf("%s %d", r.ID, r.Attempt)] != 1 {
			t.Errorf("execution %s attempt %d succeeded without running", r.ID, r.Attempt)
		}
	}
}

// Acceptance: a job stream spreads over both instances; after kill -9 of
// one of them mid-load every execution still ends once, by policy (the
// attempt it was running ends unknown and is retried on the survivor; none
// runs twice), and the survivor takes all new work.
func TestPool_Kill9OfAnInstance_SurvivorTakesTheWork(t *testing.T) {
	p := newPool(t)
	await(t, 20*time.Second, "both instances to run jobs", func() bool {
		return len(p.runs(t, "a")) >= 5 && len(p.runs(t, "b")) >= 5
	})
	p.awaitInstances(t, "a job in flight on a", func(in map[string]instanceJSON) bool { return in["a"].InFlight > 0 })
	p.procs["a"].kill(syscall.SIGKILL)
	killed := time.Now()
	ranOnA := p.runs(t, "a")
	p.awaitInstances(t, "a routed around", func(in map[string]instanceJSON) bool { return !in["a"].Healthy })
	base := len(p.runs(t, "b"))
	await(t, 20*time.Second, "b to take 40 more jobs", func() bool { return len(p.runs(t, "b")) >= base+40 })
	all := p.finish(t)
	ranOnB := p.runs(t, "b")
	checkOnce(t, all, ranOnA, ranOnB)

	// The attempts a was running ended by policy and were retried on b;
	// everything fired after the kill ran on b, at its first attempt.
	retried, after := 0, 0
	last := map[string]store.Execution{}
	for _, r := range all {
		if l, ok := last[r.ID]; !ok || r.Attempt > l.Attempt {
			last[r.ID] = r
		}
	}
	for _, r := range all {
		mark := fmt.Sprintf("%s %d", r.ID, r.Attempt)
		if ranOnA[mark] == 1 && r.Status != store.StatusSucceeded && r.Status != store.StatusMissed {
			l := last[r.ID]
			if l.Status != store.StatusSucceeded || ranOnB[fmt.Sprintf("%s %d", l.ID, l.Attempt)] != 1 {
				t.Errorf("execution %s, cut on a (%s), ended %s at attempt %d: %s", r.ID, r.Status, l.Status, l.Attempt, l.Error)
			}
			retried++
		}
		if r.Status != store.StatusMissed && r.ScheduledAt.After(killed) && r.Attempt == 1 {
			after++
			if r.Status != store.StatusSucceeded || ranOnB[mark] != 1 {
				t.Errorf("execution %s fired after the kill: %s on attempt 1 (%s), ran on b %d times", r.ID, r.Status, r.Error, ranOnB[mark])
			}
		}
	}
	if retried == 0 {
		t.Error("no attempt was cut by the kill: the test proved nothing about them")
	}
	t.Logf("%d attempts ran on a before its kill; %d cut and retried on b; %d executions fired after it, all on b",
		len(ranOnA), retried, after)
}

// Acceptance: an instance frozen with SIGSTOP misses its heartbeats and is
// routed around within its health window (three pings); its cut attempts
// time out and are retried on the other; after SIGCONT it is healthy
// again and takes work.
func TestPool_FrozenInstance_RoutedAroundWithinItsWindow(t *testing.T) {
	p := newPool(t)
	await(t, 20*time.Second, "both instances to run jobs", func() bool {
		return len(p.runs(t, "a")) >= 5 && len(p.runs(t, "b")) >= 5
	})
	b := p.procs["b"]
	if err := syscall.Kill(-b.cmd.Process.Pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	frozen := time.Now()
	thawed := false
	thaw := func() {
		if !thawed {
			thawed = true
			_ = syscall.Kill(-b.cmd.Process.Pid, syscall.SIGCONT)
		}
	}
	t.Cleanup(thaw)
	p.awaitInstances(t, "b routed around", func(in map[string]instanceJSON) bool { return !in["b"].Healthy })
	took := time.Since(frozen)
	// The window is three pings; a ping may come just before the freeze,
	// and the API is polled: allow one more ping and the polling.
	if limit := 4*poolPing + time.Second; took > limit {
		t.Errorf("b routed around %v after its freeze, want within %v", took, limit)
	}
	routed := time.Now()
	ranOnB := p.runs(t, "b")
	base := len(p.runs(t, "a"))
	await(t, 20*time.Second, "a to take 30 more jobs", func() bool { return len(p.runs(t, "a")) >= base+30 })
	if n := len(p.runs(t, "b")); n != len(ranOnB) {
		t.Errorf("frozen b ran %d more jobs", n-len(ranOnB))
	}
	thaw()
	p.awaitInstances(t, "b healthy again after SIGCONT", func(in map[string]instanceJSON) bool { return in["b"].Healthy })
	base = len(p.runs(t, "b"))
	await(t, 20*time.Second, "b to take work again", func() bool { return len(p.runs(t, "b")) >= base+5 })
	all := p.finish(t)
	checkOnce(t, all, p.runs(t, "a"), p.runs(t, "b"))
	for _, r := range all {
		if r.Attempt == 1 && r.ScheduledAt.After(routed.Add(100*time.Millisecond)) && r.ScheduledAt.Before(routed.Add(2*time.Second)) &&
			r.Status != store.StatusSucceeded && r.Status != store.StatusMissed {
			t.Errorf("execution %s fired once b was routed around: %s (%s)", r.ID, r.Status, r.Error)
		}
	}
	t.Logf("b routed around %v after SIGSTOP", took.Round(time.Millisecond))
}

// The constraint --on picks the instances with its labels; the zone
// labels of the pool make each schedule's work land on one instance.
func TestPool_OnConstraint_RunsOnlyOnMatchingInstances(t *testing.T) {
	p := newPool(t)
	for i := range 20 {
		if _, err := p.a.do("PATCH", fmt.Sprintf("/api/v1/schedules/pool-%02d", i), map[string]any{"policy": map[string]any{"on": []string{"zone=b"}}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := p.a.do("PATCH", "/api/v1/schedules/pool-00", map[string]any{"policy": map[string]any{"on": []string{"zone"}}}, nil); err == nil || !strings.Contains(err.Error(), "policy.on") {
		t.Errorf("a constraint without =: %v, want an error naming policy.on", err)
	}
	changed := time.Now()
	base := len(p.runs(t, "b"))
	await(t, 20*time.Second, "b to take 20 jobs", func() bool { return len(p.runs(t, "b")) >= base+20 })
	all := p.finish(t)
	ranOnA := p.runs(t, "a")
	for _, r := range all {
		if r.StartedAt.After(changed.Add(500*time.Millisecond)) && ranOnA[fmt.Sprintf("%s %d", r.ID, r.Attempt)] > 0 {
			t.Errorf("execution %s attempt %d ran on a despite on zone=b", r.ID, r.Attempt)
		}
	}
}
