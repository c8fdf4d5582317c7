package cluster_test

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/goleak"

	"github.com/schedulezero/schedulezero/pkg/cluster"
	"github.com/schedulezero/schedulezero/pkg/cluster/clustertest"
	"github.com/schedulezero/schedulezero/pkg/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, clustertest.IgnoreGoroutines()...) }

var t0 = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

func member(t *testing.T, e *clustertest.Etcd, name string, opts cluster.Options) *cluster.Cluster {
	t.Helper()
	opts.Endpoints = e.Endpoints()
	opts.Member = cluster.Member{Name: name, API: []string{"http://" + name + ":8888"}}
	opts.TTL = 2
	c, err := cluster.New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func campaign(t *testing.T, c *cluster.Cluster) *cluster.Term {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	term, err := c.Campaign(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = term.Resign(context.Background()) })
	return term
}

func openStore(t *testing.T, rep store.Replicator) *store.DB {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "sz.db"), store.Options{Replicator: rep, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func exec(n, attempt int, st store.Status) store.Execution {
	e := store.Execution{ID: fmt.Sprintf("%026d", n), Attempt: attempt, MaxAttempts: 3, ScheduleID: "every-second",
		HandlerID: "h1", Method: "tick", Status: st, ScheduledAt: t0.Add(time.Duration(n) * time.Second)}
	if st != store.StatusPending {
		e.StartedAt = e.ScheduledAt
	}
	if st.Finished() {
		e.CompletedAt = e.StartedAt.Add(time.Millisecond)
	}
	return e
}

// The leader's commits reach etcd; a standby that wins rebuilds the same
// schedules, firing state and history from it.
func TestTerm_StandbyRebuildsTheLeadersState(t *testing.T) {
	ctx := context.Background()
	e := clustertest.New(t, 3)
	a, b := member(t, e, "a", cluster.Options{}), member(t, e, "b", cluster.Options{})
	ta := campaign(t, a)
	db := openStore(t, ta)
	if err := db.Commit(ctx, store.Writes{Schedules: []store.Schedule{{ID: "every-second", Method: "tick", HandlerID: "h1"}, {ID: "gone"}}}); err != nil {
		t.Fatal(err)
	}
	for n := 1; n <= 5; n++ {
		st := store.StatusSucceeded
		if n == 5 {
			st = store.StatusRunning // in flight when the leader goes
		}
		w := store.Writes{
			ScheduleStates: []store.Schedule{{ID: "every-second", FireCount: int64(n), NextFire: t0.Add(time.Duration(n+1) * time.Second), LastFire: t0.Add(time.Duration(n) * time.Second)}},
			Executions:     []store.Execution{exec(n, 1, store.StatusRunning), exec(n, 1, st)},
		}
		if n == 3 {
			w.DeleteSchedules = []string{"gone"}
		}
		if err := db.Commit(ctx, w); err != nil {
			t.Fatal(err)
		}
	}
	if leader, err := b.Leader(ctx); err != nil || leader.Name != "a" {
		t.Fatalf("Leader() = %+v, %v; want a", leader, err)
	}

	won := make(chan *cluster.Term, 1)
	go func() {
		term, err := b.Campaign(ctx)
		if err != nil {
			t.Error(err)
		}
		won <- term
	}()
	select {
	case <-won:
		t.Fatal("b leads while a still does")
	case <-time.After(300 * time.Millisecond):
	}
	resigned := time.Now()
	if err := ta.Resign(ctx); err != nil {
		t.Fatal(err)
	}
	var tb *cluster.Term
	select {
	case tb = <-won:
		t.Logf("b leads %v after a resigned", time.Since(resigned))
	case <-time.After(10 * time.Second):
		t.Fatal("b did not take over within 10s of a resigning")
	}
	if tb == nil {
		t.FailNow()
	}
	t.Cleanup(func() { _ = tb.Resign(context.Background()) })
	rebuilt := openStore(t, tb)
	start := time.Now()
	n, err := tb.Restore(ctx, rebuilt)
	t.Logf("restored %d records in %v", n, time.Since(start))
	if err != nil {
		t.Fatal(err)
	}
	if n != 7 { // a schedule, its state, five attempt records
		t.Errorf("Restore read %d records, want 7", n)
	}
	for _, c := range []struct {
		name string
		read func(*store.DB) (any, error)
	}{
		{"schedules", func(d *store.DB) (any, error) { return d.ListSchedules(ctx) }},
		{"executions", func(d *store.DB) (any, error) { return d.ListExecutions(ctx, store.ExecutionFilter{}) }},
		{"unfinished", func(d *store.DB) (any, error) { return d.Unfinished(ctx) }},
		{"stats", func(d *store.DB) (any, error) { return d.Stats(ctx) }},
	} {
		want, err := c.read(db)
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.read(rebuilt)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s rebuilt from etcd:\n%+v\nwant the old leader's:\n%+v", c.name, got, want)
		}
	}
	// The new leader writes; the old one's term is over.
	if err := rebuilt.Commit(ctx, store.Writes{Executions: []store.Execution{exec(5, 1, store.StatusInterrupted)}}); err != nil {
		t.Fatalf("new leader's commit: %v", err)
	}
	if err := ta.Replicate(ctx, [][]store.Op{{{Bucket: store.ReplicaSchedules, Key: []byte("zombie"), Value: []byte("x")}}}); !cluster.IsDeposed(err) {
		t.Errorf("old leader's write after resigning = %v, want ErrDeposed", err)
	}
}

// A leader whose lease is gone (revoked here; expired after a SIGSTOP
// longer than the TTL in production) has its next write refused by the
// fence, before its own session notices, and its term ends.
func TestTerm_Replicate_RefusedOnceTheLeaseIsGone(t *testing.T) {
	ctx := context.Background()
	e := clustertest.New(t, 3)
	a := member(t, e, "a", cluster.Options{})
	ta := campaign(t, a)
	db := openStore(t, ta)
	if err := db.Commit(ctx, store.Writes{Schedules: []store.Schedule{{ID: "before"}}}); err != nil {
		t.Fatal(err)
	}

	cli, err := clientv3.New(clientv3.Config{Endpoints: e.Endpoints(), DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	if _, err := cli.Revoke(ctx, ta.Lease()); err != nil {
		t.Fatal(err)
	}
	err = db.Commit(ctx, store.Writes{Schedules: []store.Schedule{{ID: "after"}}})
	if !cluster.IsDeposed(err) {
		t.Fatalf("commit after the lease was revoked = %v, want ErrDeposed", err)
	}
	select {
	case <-ta.Done():
	default:
		t.Fatal("term not over after a refused write")
	}
	if !cluster.IsDeposed(ta.Err()) {
		t.Errorf("term.Err() = %v, want ErrDeposed", ta.Err())
	}
	for id, want := range map[string]int64{"before": 1, "after": 0} {
		resp, err := cli.Get(ctx, cluster.DefaultPrefix+"/schedules/"+id, clientv3.WithCountOnly())
		if err != nil {
			t.Fatal(err)
		}
		if resp.Count != want {
			t.Errorf("etcd holds %d of schedule %q, want %d", resp.Count, id, want)
		}
	}
}

// A group commit larger than etcd's transaction limit is written in
// several transactions, each holding whole Writes.
func TestTerm_Replicate_ChunksLargeCommits(t *testing.T) {
	ctx := context.Background()
	e := clustertest.New(t, 1)
	a := member(t, e, "a", cluster.Options{MaxTxnOps: 8})
	ta := campaign(t, a)
	db := openStore(t, ta)
	var ws []store.Writes
	for n := range 40 {
		ws = append(ws, store.Writes{Executions: []store.Execution{exec(n, 1, store.StatusSucceeded)}})
	}
	ws = append(ws, store.Writes{Executions: []store.Execution{exec(100, 1, store.StatusSucceeded), exec(101, 1, store.StatusSucceeded)}})
	errs := make(chan error, len(ws))
	for _, w := range ws {
		db.CommitAsync(w, func(err error) { errs <- err })
	}
	for range ws {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	// A single Writes larger than a transaction still goes, in parts.
	var big store.Writes
	for n := 200; n < 220; n++ {
		big.Executions = append(big.Executions, exec(n, 1, store.StatusSucceeded))
	}
	if err := db.Commit(ctx, big); err != nil {
		t.Fatal(err)
	}
	resp, err := a.Client().Get(ctx, cluster.DefaultPrefix+"/executions/", clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		t.Fatal(err)
	}
	if resp.Count != 62 {
		t.Errorf("etcd holds %d attempt records, want 62", resp.Count)
	}
}
