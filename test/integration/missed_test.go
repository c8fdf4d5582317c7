package integration

import (
	"strings"
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
	start := time.Now().Add(2 * time.Second).Truncate(time.Second) // at least a second to create them
	const grace = 700 * time.Millisecond
	policies := []string{"once", "skip", "all"}
	for _, p := range policies {
		body := map[string]any{
			"id": "every-second-" + p, "handler_id": "dingaling", "job_method": "quick_aling", "max_attempts": 1,
			"trigger": map[string]any{"type": "interval", "seconds": 1, "start_time": start.UTC().Format(time.RFC3339)},
			"policy":  map[string]any{"misfire": p, "grace_time": grace.String()},
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
				if r.ScheduledAt.After(restartedAt) && r.Status == store.StatusSucceeded {
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
		seen := map[int64]store.Status{} // by Unix second: one record per occurrence
		var lateRuns, missed int
		// The first occurrence is start, unless the machine was so slow
		// that the schedule was created after it: then it never existed.
		first, last := recs[0].ScheduledAt.Unix(), start.Unix()
		for _, r := range recs {
			first = min(first, r.ScheduledAt.Unix())
		}
		for _, r := range recs {
			occ := r.ScheduledAt.Unix()
			if prev, dup := seen[occ]; dup {
				t.Errorf("%s: occurrence %v recorded twice (%s and %s)", p, r.ScheduledAt, prev, r.Status)
			}
			seen[occ] = r.Status
			last = max(last, occ)
			if !r.ScheduledAt.After(stoppedAt) {
				continue
			}
			switch {
			case r.Status == store.StatusMissed:
				missed++
				if want := map[string]string{"once": "coalesced into one run", "skip": "misfire policy skip"}[p]; !strings.Contains(r.Error, want) {
					t.Errorf("%s: missed record says %q, want it to say %q", p, r.Error, want)
				}
			case r.Status == store.StatusSucceeded && r.StartedAt.Sub(r.ScheduledAt) > grace:
				lateRuns++ // a catch-up run of an occurrence from the outage
			}
		}
		// No occurrence from the first to the last is unaccounted for.
		for occ := first; occ <= last; occ++ {
			if _, ok := seen[occ]; !ok {
				t.Errorf("%s: occurrence %v neither ran nor was recorded missed", p, time.Unix(occ, 0).Format(time.TimeOnly))
			}
		}
		t.Logf("policy %s: %v outage: %d late catch-up runs, %d recorded missed",
			p, restartedAt.Sub(stoppedAt).Round(time.Second), lateRuns, missed)
		if lateRuns+missed < 3 {
			t.Fatalf("%s: only %d occurrences passed in the outage; the test proves nothing", p, lateRuns+missed)
		}
		switch p {
		case "once":
			// One run stands for the outage: a late catch-up run, or the
			// on-time run at the restart when an occurrence fell due then.
			if lateRuns > 1 {
				t.Errorf("once: %d catch-up runs, want at most 1", lateRuns)
			}
		case "skip":
			if lateRuns != 0 {
				t.Errorf("skip: %d catch-up runs, want 0", lateRuns)
			}
		case "all":
			if missed != 0 {
				t.Errorf("all: %d occurrences recorded missed, want every one run", missed)
			}
		}
		var sch sz.Schedule
		if _, err := a.do("GET", "/api/v1/schedules/every-second-"+p, nil, &sch); err != nil {
			t.Fatal(err)
		}
		if p != "all" && sch.MissedCount != int64(missed) {
			t.Errorf("%s: the schedule's missed_count is %d, history has %d missed", p, sch.MissedCount, missed)
		}
	}
}
