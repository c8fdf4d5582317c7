package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	sz "github.com/schedulezero/schedulezero/pkg/api"
	"github.com/schedulezero/schedulezero/pkg/handler"
	"github.com/schedulezero/schedulezero/pkg/scheduler"
	"github.com/schedulezero/schedulezero/pkg/store"
)

// onceRig is a scheduler and an exec handler with a journal whose one
// method appends "start ATTEMPT" to a marks file, runs body, then appends
// "end".
type onceRig struct {
	d                     deployment
	sched, handler        *proc
	a                     *api
	marks, journal, cfg   string
	endpoint, executionID string
}

func newOnceRig(t *testing.T, body string) *onceRig {
	t.Helper()
	r := &onceRig{d: newDeployment(t)}
	r.marks = filepath.Join(r.d.dir, "marks")
	r.journal = filepath.Join(r.d.dir, "journal")
	r.endpoint = "ipc://" + filepath.Join(r.d.dir, "worker.sock")
	r.cfg = writeExecHandler(t, r.d.dir, "worker", 4, map[string][]string{
		"work": {"/bin/sh", "-c", `echo "start $SZ_ATTEMPT" >> ` + r.marks + "; " + body + "; echo end >> " + r.marks},
	})
	r.sched, r.a = r.d.startScheduler(t)
	r.startHandler(t)
	if code, err := r.a.do("POST", "/api/v1/schedules", map[string]any{
		"id": "once", "handler_id": "worker", "job_method": "work", "job_params": map[string]any{},
		"trigger": map[string]any{"type": "interval", "hours": 1}, "timeout": "30s", "max_attempts": 3,
	}, nil); err != nil || code != 201 {
		t.Fatalf("create schedule: %d %v", code, err)
	}
	// An interval schedule fires once at its creation.
	r.awaitMarks(t, "the job to start", "start 1")
	var list sz.ExecutionList
	if _, err := r.a.do("GET", "/api/v1/schedules/once/executions", nil, &list); err != nil || len(list.Executions) != 1 {
		t.Fatalf("executions of the schedule: %+v %v", list, err)
	}
	r.executionID = list.Executions[0].ID
	return r
}

func (r *onceRig) startHandler(t *testing.T) {
	r.handler = r.d.startHandler(t, r.a, "worker", "--config", r.cfg, "--endpoint", r.endpoint, "--journal", r.journal)
}

func (r *onceRig) restartScheduler(t *testing.T) {
	r.sched, r.a = r.d.startScheduler(t)
}

func (r *onceRig) markLines() []string {
	b, _ := os.ReadFile(r.marks)
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

func (r *onceRig) awaitMarks(t *testing.T, what, line string) {
	t.Helper()
	await(t, 20*time.Second, what, func() bool {
		for _, l := range r.markLines() {
			if l == line {
				return true
			}
		}
		return false
	})
}

// attempts waits until the execution has ended and returns its attempts.
func (r *onceRig) attempts(t *testing.T) []store.Execution {
	t.Helper()
	var out sz.ExecutionAttempts
	await(t, 40*time.Second, "the execution to end", func() bool {
		if _, err := r.a.do("GET", "/api/v1/executions/"+r.executionID, nil, &out); err != nil || len(out.Attempts) == 0 {
			return false
		}
		last := out.Attempts[len(out.Attempts)-1]
		return last.Status != store.StatusPending && last.Status != store.StatusRunning
	})
	return out.Attempts
}

func describe(atts []store.Execution) string {
	var b strings.Builder
	for _, a := range atts {
		fmt.Fprintf(&b, "[attempt %d %s note=%q err=%q] ", a.Attempt, a.Status, a.Note, a.Error)
	}
	return b.String()
}

// Recovery, branch "finished": the scheduler is killed while the attempt
// runs; the handler finishes it and journals its reply, which the dead
// scheduler never reads. After the restart the scheduler asks the handler,
// records the stored reply as the attempt's outcome, noted "recovered
// from handler", and nothing runs again.
func TestRecovery_FinishedOnHandler_RecordsItsReply(t *testing.T) {
	r := newOnceRig(t, "sleep 1")
	r.sched.kill(syscall.SIGKILL)
	r.awaitMarks(t, "the job to end", "end")
	await(t, 10*time.Second, "the reply in the journal", func() bool {
		fi, err := os.Stat(filepath.Join(r.journal, handler.JournalFile))
		return err == nil && fi.Size() > 0
	})
	r.restartScheduler(t)
	atts := r.attempts(t)
	if len(atts) != 1 || atts[0].Status != store.StatusSucceeded || atts[0].Note != scheduler.NoteRecovered {
		t.Fatalf("attempts %s; want one success noted %q", describe(atts), scheduler.NoteRecovered)
	}
	if got := r.markLines(); len(got) != 2 {
		t.Fatalf("the handler ran the job: %q; want one run", got)
	}
}

// Recovery, branch "running": the scheduler is killed and restarted while
// the attempt still runs; it asks, hears "running", sends the request
// again, which the handler attaches to the run in progress, and records
// its reply when it ends: one run, one successful attempt.
func TestRecovery_StillRunningOnHandler_AttachesToIt(t *testing.T) {
	r := newOnceRig(t, "sleep 4")
	r.sched.kill(syscall.SIGKILL)
	r.restartScheduler(t)
	atts := r.attempts(t)
	if len(atts) != 1 || atts[0].Status != store.StatusSucceeded || atts[0].Note != scheduler.NoteRecovered {
		t.Fatalf("attempts %s; want one success noted %q", describe(atts), scheduler.NoteRecovered)
	}
	if got := r.markLines(); len(got) != 2 || got[1] != "end" {
		t.Fatalf("the handler ran the job: %q; want one run to its end", got)
	}
}

// Recovery, branch "unknown": the scheduler and the handler are both
// killed while the attempt runs, so the handler's next process never
// finished it and does not know it. The attempt is marked interrupted and
// retried by policy, as before handlers were asked.
func TestRecovery_UnknownToHandler_InterruptsAndRetries(t *testing.T) {
	r := newOnceRig(t, `if [ "$SZ_ATTEMPT" = 1 ]; then sleep 30; fi`)
	r.sched.kill(syscall.SIGKILL)
	r.handler.kill(syscall.SIGKILL)
	r.restartScheduler(t)
	r.startHandler(t)
	atts := r.attempts(t)
	if len(atts) != 2 || atts[0].Status != store.StatusInterrupted || atts[0].Note != "" ||
		!strings.Contains(atts[0].Error, "does not know it") || atts[1].Status != store.StatusSucceeded {
		t.Fatalf("attempts %s; want attempt 1 interrupted (unknown to the handler), attempt 2 success", describe(atts))
	}
	if got := r.markLines(); strings.Join(got, ",") != "start 1,start 2,end" {
		t.Fatalf("marks %q", got)
	}
}
