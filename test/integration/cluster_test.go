package integration

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/cluster/clustertest"
	"github.com/schedulezero/schedulezero/pkg/store"
)

// envInt reads a test knob from the environment.
func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q: want a positive number", name, v)
	}
	return n
}

// member is one scheduler process of the cluster.
type member struct {
	d    deployment
	name string
	p    *proc
	a    *api
	args []string
}

func (m *member) start(t *testing.T) {
	t.Helper()
	m.p = start(t, m.d.dir, "schedulezero-scheduler", m.args...)
	m.a = newAPI(m.d.sock)
	t.Cleanup(m.a.close)
}

// leads reports whether the member's API serves (a standby answers 503).
func (m *member) leads() bool {
	st, _ := m.a.do("GET", "/api/v1/schedules?limit=1", nil, nil)
	return st == http.StatusOK
}

// Acceptance (#21): three scheduler processes on a 3-member etcd and a Go
// handler given all three; schedules fire every second; the leader is
// killed with SIGKILL again and again. Afterwards every occurrence of
// every schedule fired exactly once (the misfire policy is "all": an
// occurrence of the gap is fired late, not dropped), the handler ran no
// execution twice and none that the history lacks, and the takeover
// times are reported. SZ_CLUSTER_KILLS (default 5) and
// SZ_CLUSTER_SCHEDULES (default 20) scale it (docs/operations.md has 20
// kills).
func TestCluster_Kill9TheLeader_EveryOccurrenceOnceNothingTwice(t *testing.T) {
	if testing.Short() {
		t.Skip("a minute of kills: not with -short")
	}
	kills := envInt(t, "SZ_CLUSTER_KILLS", 5)
	n := envInt(t, "SZ_CLUSTER_SCHEDULES", 20)
	e := clustertest.New(t, 3)
	var members []*member
	var zmqs []string
	for i := range 3 {
		d := newDeployment(t)
		m := &member{d: d, name: fmt.Sprintf("n%d", i)}
		m.args = []string{"--db", d.db, "--zmq-bind", d.zmq, "--http-listen", "unix:" + d.sock, "--log-level", "info",
			"--cluster", e.URL(), "--cluster-ttl", "1", "--cluster-name", m.name, "--cluster-max-txn-ops", strconv.Itoa(clustertest.MaxTxnOps)}
		members = append(members, m)
		zmqs = append(zmqs, d.zmq)
		m.start(t)
	}
	leaderOf := func(skip *member) *member {
		for _, m := range members {
			if m != skip && m.leads() {
				return m
			}
		}
		return nil
	}
	var leader *member
	await(t, 30*time.Second, "a leader", func() bool { leader = leaderOf(nil); return leader != nil })

	hdir := newDeployment(t)
	marks := filepath.Join(hdir.dir, "marks")
	cfg := writeExecHandler(t, hdir.dir, "worker", 32, map[string][]string{
		"mark": {"/bin/sh", "-c", `echo "$SZ_EXECUTION_ID" >> ` + marks},
	})
	start(t, hdir.dir, "schedulezero-handler", "--name", "worker", "--scheduler", strings.Join(zmqs, ","),
		"--config", cfg, "--journal", filepath.Join(hdir.dir, "journal"), "--ping-interval", "300ms",
		"--endpoint", "ipc://"+filepath.Join(hdir.dir, "worker.sock"))
	awaitHandler(t, leader.a, "worker")

	first := time.Now().Add(2 * time.Second).Truncate(time.Second)
	forEach(t, n, func(i int) error {
		_, err := leader.a.do("POST", "/api/v1/schedules", map[string]any{
			"id": fmt.Sprintf("ha-%04d", i), "handler_id": "worker", "job_method": "mark",
			"trigger":      map[string]any{"type": "interval", "seconds": 1, "start_time": first.Format(time.RFC3339)},
			"timeout":      "30s",
			"max_attempts": 1,
			"policy":       map[string]any{"misfire": "all", "grace_time": "1h", "overlap": "allow"},
		}, nil)
		return err
	})

	var takeovers []time.Duration
	for k := range kills {
		base := stats(t, leader.a).ByStatus[store.StatusSucceeded]
		await(t, 30*time.Second, "executions between kills", func() bool {
			return stats(t, leader.a).ByStatus[store.StatusSucceeded] >= base+int64(2*n)
		})
		old := leader
		old.p.kill(syscall.SIGKILL)
		killed := time.Now()
		await(t, 30*time.Second, fmt.Sprintf("a new leader after kill %d", k+1), func() bool {
			leader = leaderOf(old)
			return leader != nil
		})
		takeovers = append(takeovers, time.Since(killed))
		old.start(t) // back as a standby
	}
	// The last leader fires on; then everything is paused and settled.
	base := stats(t, leader.a).ByStatus[store.StatusSucceeded]
	await(t, 30*time.Second, "executions after the last kill", func() bool {
		return stats(t, leader.a).ByStatus[store.StatusSucceeded] >= base+int64(2*n)
	})
	forEach(t, n, func(i int) error {
		_, err := leader.a.do("POST", fmt.Sprintf("/api/v1/schedules/ha-%04d/pause", i), nil, nil)
		return err
	})
	await(t, 60*time.Second, "every execution to end", func() bool {
		st := stats(t, leader.a)
		return st.ByStatus[store.StatusPending]+st.ByStatus[store.StatusRunning] == 0
	})
	for _, m := range members {
		if m != leader {
			m.p.kill(syscall.SIGTERM)
		}
	}
	leader.p.kill(syscall.SIGTERM)
	db, err := store.Open(leader.d.db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	all, err := db.ListExecutions(ctx, store.ExecutionFilter{})
	if err != nil {
		t.Fatal(err)
	}
	scheds, err := db.ListSchedules(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if len(scheds) != n {
		t.Fatalf("%d schedules after %d failovers, want %d", len(scheds), kills, n)
	}

	runs := countLines(t, marks)
	bySchedule := map[string]map[time.Time][]store.Execution{}
	ids := map[string]bool{}
	missed := 0
	for _, r := range all {
		ids[r.ID] = true
		if bySchedule[r.ScheduleID] == nil {
			bySchedule[r.ScheduleID] = map[time.Time][]store.Execution{}
		}
		bySchedule[r.ScheduleID][r.ScheduledAt] = append(bySchedule[r.ScheduleID][r.ScheduledAt], r)
		switch {
		case r.Status == store.StatusMissed:
			missed++
		case r.Status != store.StatusSucceeded:
			t.Errorf("execution %s (%s at %s) ended %s: %s", r.ID, r.ScheduleID, r.ScheduledAt.Format(time.TimeOnly), r.Status, r.Error)
		case runs[r.ID] != 1:
			t.Errorf("execution %s (%s at %s) ran %d times on the handler, want once", r.ID, r.ScheduleID, r.ScheduledAt.Format(time.TimeOnly), runs[r.ID])
		}
	}
	for id := range runs {
		if !ids[id] {
			t.Errorf("lost: the handler ran %s, which the history does not have", id)
		}
	}
	occurrences := 0
	for _, s := range scheds {
		occ := bySchedule[s.ID]
		times := slices.SortedFunc(func(yield func(time.Time) bool) {
			for at := range occ {
				if !yield(at) {
					return
				}
			}
		}, func(a, b time.Time) int { return a.Compare(b) })
		if len(times) == 0 {
			t.Errorf("schedule %s never fired", s.ID)
			continue
		}
		occurrences += len(times)
		if !times[0].Equal(first) {
			t.Errorf("schedule %s: first occurrence %s, want %s", s.ID, times[0].Format(time.TimeOnly), first.Format(time.TimeOnly))
		}
		for i, at := range times {
			if len(occ[at]) != 1 {
				t.Errorf("schedule %s: occurrence %s has %d executions, want 1", s.ID, at.Format(time.TimeOnly), len(occ[at]))
			}
			if i > 0 && at.Sub(times[i-1]) != time.Second {
				t.Errorf("schedule %s: no execution between %s and %s", s.ID, times[i-1].Format(time.TimeOnly), at.Format(time.TimeOnly))
			}
		}
	}
	slices.Sort(takeovers)
	pct := func(p float64) time.Duration { return takeovers[int(p*float64(len(takeovers)-1)+0.5)] }
	t.Logf("%d schedules every second, %d kill -9 of the leader: %d occurrences, each fired once (%d recorded missed); takeover p50 %v, p99 %v, max %v",
		n, kills, occurrences, missed, pct(0.5).Round(time.Millisecond), pct(0.99).Round(time.Millisecond), takeovers[len(takeovers)-1].Round(time.Millisecond))
}
