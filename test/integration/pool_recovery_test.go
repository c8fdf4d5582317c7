package integration

import (
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	sz "github.com/schedulezero/schedulezero/pkg/api"
	"github.com/schedulezero/schedulezero/pkg/scheduler"
	"github.com/schedulezero/schedulezero/pkg/store"
)

// Recovery in a pool: an attempt's record names the instance that ran it,
// and after a restart of the scheduler that instance is asked about it,
// not any instance of the name. The scheduler is killed while instance X
// runs the attempt and X is frozen (SIGSTOP); after the restart the other
// instance registers first and, asked, would not know the attempt (the
// attempt would be interrupted and run again). It is not asked: the
// attempt stays running until X thaws and answers, and it is recorded
// from X's journal, run once.
func TestPool_Recovery_AsksTheInstanceThatRanIt(t *testing.T) {
	d := newDeployment(t)
	sched, a := d.startScheduler(t)
	procs, marks := map[string]*proc{}, map[string]string{}
	for _, inst := range []string{"a", "b"} {
		marks[inst] = filepath.Join(d.dir, "marks-"+inst)
		cfg := writeExecHandler(t, d.dir, "worker-"+inst, 4, map[string][]string{
			"work": {"/bin/sh", "-c", `echo "start $SZ_ATTEMPT" >> ` + marks[inst] + `; sleep 1; echo end >> ` + marks[inst]},
		})
		procs[inst] = start(t, d.dir, "schedulezero-handler", "--name", "worker", "--instance", inst, "--config", cfg,
			"--scheduler", d.zmq, "--endpoint", "ipc://"+filepath.Join(d.dir, "worker-"+inst+".sock"),
			"--journal", filepath.Join(d.dir, "journal-"+inst), "--ping-interval", poolPing.String())
	}
	p := &pool{d: d, sched: sched, a: a, name: "worker"}
	healthy := func(ids ...string) func(map[string]instanceJSON) bool {
		return func(in map[string]instanceJSON) bool {
			for _, id := range ids {
				if !in[id].Healthy {
					return false
				}
			}
			return true
		}
	}
	p.awaitInstances(t, "both instances registered and healthy", healthy("a", "b"))
	if code, err := a.do("POST", "/api/v1/schedules", map[string]any{
		"id": "once", "handler_id": "worker", "job_method": "work",
		"trigger": map[string]any{"type": "interval", "hours": 1}, "timeout": "30s", "max_attempts": 3,
	}, nil); err != nil || code != 201 {
		t.Fatalf("create schedule: %d %v", code, err)
	}
	var ran, other string
	await(t, 20*time.Second, "the job to start on an instance", func() bool {
		for inst, other := range map[string]string{"a": "b", "b": "a"} {
			if countLines(t, marks[inst])["start 1"] == 1 && len(countLines(t, marks[other])) == 0 {
				ran = inst
				return true
			}
		}
		return false
	})
	other = map[string]string{"a": "b", "b": "a"}[ran]
	var list sz.ExecutionList
	if _, err := a.do("GET", "/api/v1/schedules/once/executions", nil, &list); err != nil || len(list.Executions) != 1 {
		t.Fatalf("executions of the schedule: %+v %v", list, err)
	}
	id := list.Executions[0].ID
	attempts := func() []store.Execution {
		var out sz.ExecutionAttempts
		if _, err := p.a.do("GET", "/api/v1/executions/"+id, nil, &out); err != nil {
			t.Fatal(err)
		}
		return out.Attempts
	}
	if atts := attempts(); len(atts) != 1 || atts[0].Status != store.StatusRunning || atts[0].Instance != ran {
		t.Fatalf("attempts %+v; want one running on instance %q", atts, ran)
	}

	sched.kill(syscall.SIGKILL)
	if err := procs[ran].cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	thawed := false
	thaw := func() {
		if !thawed {
			thawed = true
			_ = procs[ran].cmd.Process.Signal(syscall.SIGCONT)
		}
	}
	t.Cleanup(thaw)
	p.sched, p.a = d.startScheduler(t)
	p.awaitInstances(t, "the other instance registered with the new scheduler", healthy(other))
	// Asked, the other instance answers at once that it does not know the
	// attempt: give it the time to, and see that it was not asked.
	for deadline := time.Now().Add(1500 * time.Millisecond); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if atts := attempts(); len(atts) != 1 || atts[0].Status != store.StatusRunning {
			t.Fatalf("attempts %s while instance %q is frozen; want attempt 1 still running (only %q can say)", describe(atts), ran, ran)
		}
	}
	thaw()
	var atts []store.Execution
	await(t, 20*time.Second, "the execution to end", func() bool {
		atts = attempts()
		last := atts[len(atts)-1]
		return last.Status.Finished()
	})
	if len(atts) != 1 || atts[0].Status != store.StatusSucceeded || atts[0].Note != scheduler.NoteRecovered || atts[0].Instance != ran {
		t.Fatalf("attempts %s; want one success on %q noted %q", describe(atts), ran, scheduler.NoteRecovered)
	}
	if got, want := countLines(t, marks[ran]), map[string]int{"start 1": 1, "end": 1}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("instance %q marks %v, want %v: one run", ran, got, want)
	}
	if got := countLines(t, marks[other]); len(got) != 0 {
		t.Errorf("instance %q ran the job: %v", other, got)
	}
}
