package integration

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	sz "github.com/schedulezero/schedulezero/pkg/api"
	"github.com/schedulezero/schedulezero/pkg/store"
)

// Acceptance (scheduling semantics): stop the scheduler for a while, restart
// it, and see exactly the occurrences each misfire policy promises run once,
// and every other one recorded as missed.
func TestMissedRuns_RealProcessRestart(t *testing.T) {
	d := newDeployment(t)
	sched, a := d.startScheduler(t)
	d.startHandler(t, a, "dingaling", "--kind", "dingaling")
	start := time.Now().Add(time.Second).Truncate(time.Second)
	policies := []string{"once", "skip", "all"}
	for _, p := range policies {
		body := map[string]any{
			"id": "every-second-" + p, "handler_id": "dingaling", "job_method": "quick_aling", "max_attempts": 1,
			"trigger": map[string]any{"type": "interval", "seconds": 1, "start_time": start.UTC().Format(time.RFC3339)},
			"policy":  map[string]any{"misfire": p, "grace_time": "500ms"},
		}
		if _, err := a.do("POST", "/api/v1/schedules", body, nil); err != nil {
			t.Fatal(err)
		}
	}
	history := func(id string) []store.Execution {
		var list sz.ExecutionList
		if _, err := a.do("GET", "/api/v1/executions?schedule_id="+id+"&limit=1000", nil, &list); err != nil {
			t.Fatal(err)
		}
		return list.Executions
	}
	await(t, 20*time.Second, "three runs of each schedule", func() bool {
		for _, p := range policies {
			if len(history("every-second-"+p)) < 3 {
				return false
			}
		}
		return true
	})
	sched.kill(syscall.SIGTERM)
	stoppedAt := time.Now()
	time.Sleep(5 * time.Second) // the outage itself: the clock has to pass occurrences
	_, a = d.startScheduler(t)
	restartedAt := time.Now()
	await(t, 20*time.Second, "two runs after the restart", func() bool {
		for _, p := range policies {
			n := 0
			for _, r := range history("every-second-" + p) {
				if r.ScheduledAt.After(restartedAt.Add(time.Second)) && r.Status == store.StatusSucceeded {
					n++
				}
			}
			if n < 2 {
				return false
			}
		}
		return true
	})

	for _, p := range policies {
		recs := history("every-second-" + p)
		seen := map[time.Time]store.Status{}
		var runsInOutage, missedInOutage int
		for _, r := range recs {
			occ := r.ScheduledAt
			if prev, dup := seen[occ]; dup {
				t.Errorf("%s: occurrence %v recorded twice (%s and %s)", p, occ, prev, r.Status)
			}
			seen[occ] = r.Status
			if occ.After(stoppedAt) && occ.Before(restartedAt.Add(-time.Second)) {
				switch r.Status {
				case store.StatusMissed:
					missedInOutage++
				case store.StatusSucceeded:
					runsInOutage++
				}
			}
		}
		// No occurrence from the first to the last is unaccounted for.
		first, last := start, start
		for occ := range seen {
			if occ.After(last) {
				last = occ
			}
		}
		for occ := first; !occ.After(last); occ = occ.Add(time.Second) {
			if _, ok := seen[occ]; !ok {
				t.Errorf("%s: occurrence %v neither ran nor was recorded missed", p, occ.Format(time.TimeOnly))
			}
		}
		outage := runsInOutage + missedInOutage
		t.Logf("policy %s: %d occurrences fell in the %v outage: %d ran, %d recorded missed",
			p, outage, restartedAt.Sub(stoppedAt).Round(time.Second), runsInOutage, missedInOutage)
		if outage < 3 {
			t.Fatalf("%s: only %d occurrences in the outage; the test proves nothing", p, outage)
		}
		want := map[string]int{"once": 1, "skip": 0, "all": outage}[p]
		if runsInOutage != want {
			t.Errorf("%s: %d of the missed occurrences ran, want %d", p, runsInOutage, want)
		}
		var sch sz.Schedule
		if _, err := a.do("GET", "/api/v1/schedules/every-second-"+p, nil, &sch); err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(sch.MissedCount); p != "all" && got == "0" {
			t.Errorf("%s: the schedule's missed_count is 0", p)
		}
	}
}
