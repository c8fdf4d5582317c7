package store_test

import (
	"context"
	"errors"
	"maps"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/store"
	"github.com/schedulezero/schedulezero/pkg/store/storetest"
)

// mapReplica applies replicated groups to maps, as a key-value store does;
// refuse, when set, fails every Replicate.
type mapReplica struct {
	mu      sync.Mutex
	buckets map[string]map[string][]byte
	groups  int
	refuse  error
}

func newMapReplica() *mapReplica {
	r := &mapReplica{buckets: map[string]map[string][]byte{}}
	for _, b := range store.ReplicaBuckets {
		r.buckets[b] = map[string][]byte{}
	}
	return r
}

func (r *mapReplica) Replicate(_ context.Context, groups [][]store.Op) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.refuse != nil {
		return r.refuse
	}
	for _, g := range groups {
		r.groups++
		for _, op := range g {
			switch {
			case op.Delete && op.Key == nil:
				clear(r.buckets[op.Bucket])
			case op.Delete:
				delete(r.buckets[op.Bucket], string(op.Key))
			default:
				r.buckets[op.Bucket][string(op.Key)] = slices.Clone(op.Value)
			}
		}
	}
	return nil
}

// ops returns the replica's records as a range read returns them: bucket
// by bucket in ReplicaBuckets order, keys sorted.
func (r *mapReplica) ops() []store.Op {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ops []store.Op
	for _, b := range store.ReplicaBuckets {
		for _, k := range slices.Sorted(maps.Keys(r.buckets[b])) {
			ops = append(ops, store.Op{Bucket: b, Key: []byte(k), Value: r.buckets[b][k]})
		}
	}
	return ops
}

func TestDB_Restore_FromReplicaEqualsOriginal(t *testing.T) {
	ctx := context.Background()
	rep := newMapReplica()
	db := storetest.NewWithOptions(t, store.Options{Replicator: rep, Retention: store.Retention{MaxCount: 6}, PruneInterval: time.Hour})
	commit(t, db, store.Writes{Schedules: []store.Schedule{{ID: "a", Method: "m"}, {ID: "b"}, {ID: "gone"}}})
	commit(t, db, store.Writes{
		ScheduleStates:  []store.Schedule{{ID: "a", FireCount: 7, MissedCount: 2, NextFire: t0, LastFire: t0.Add(-time.Second)}},
		DeleteSchedules: []string{"gone"},
		Executions:      []store.Execution{execution(1, 1, "a", "h1", store.StatusRunning, 0)},
	})
	for n := 2; n <= 9; n++ {
		commit(t, db, store.Writes{Executions: []store.Execution{execution(n, 1, "a", "h1", store.StatusSucceeded, float64(n))}})
	}
	commit(t, db, store.Writes{
		Executions:    []store.Execution{execution(1, 1, "a", "h1", store.StatusFailed, 3), execution(1, 2, "a", "h2", store.StatusRunning, 0)},
		Notifications: []store.Notification{{ID: "n1", Event: "failure", Payload: []byte(`{}`)}},
	})
	// b's whole record replaces its state: the replica must drop the state.
	commit(t, db, store.Writes{ScheduleStates: []store.Schedule{{ID: "b", FireCount: 3}}})
	commit(t, db, store.Writes{Schedules: []store.Schedule{{ID: "b", FireCount: 1}}})
	if err := db.PutHandler(ctx, store.Handler{ID: "h1", Address: "tcp://127.0.0.1:4243"}); err != nil {
		t.Fatal(err)
	}
	if n, err := db.Prune(ctx, t0); err != nil || n == 0 {
		t.Fatalf("Prune = %d, %v; want some pruned", n, err)
	}

	restored := storetest.New(t)
	if err := restored.Restore(ctx, rep.ops()); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	for _, c := range []struct {
		name string
		read func(*store.DB) (any, error)
	}{
		{"schedules", func(d *store.DB) (any, error) { return d.ListSchedules(ctx) }},
		{"executions", func(d *store.DB) (any, error) { return d.ListExecutions(ctx, store.ExecutionFilter{}) }},
		{"by schedule", func(d *store.DB) (any, error) { return d.ListExecutions(ctx, store.ExecutionFilter{ScheduleID: "a"}) }},
		{"by handler", func(d *store.DB) (any, error) { return d.ListExecutions(ctx, store.ExecutionFilter{HandlerID: "h2"}) }},
		{"unfinished", func(d *store.DB) (any, error) { return d.Unfinished(ctx) }},
		{"stats", func(d *store.DB) (any, error) { return d.Stats(ctx) }},
		{"notifications", func(d *store.DB) (any, error) { return d.ListNotifications(ctx, "") }},
		{"handlers", func(d *store.DB) (any, error) { return d.ListHandlers(ctx) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			want, err := c.read(db)
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.read(restored)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("restored:\n%+v\nwant (original):\n%+v", got, want)
			}
		})
	}
	if s, err := restored.GetSchedule(ctx, "b"); err != nil || s.FireCount != 1 {
		t.Errorf("restored b = %+v, %v; want FireCount 1 (the whole record, not the older state)", s, err)
	}

	if err := db.ClearExecutions(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(rep.buckets[store.ReplicaExecutions]); n != 0 {
		t.Errorf("replica keeps %d executions after ClearExecutions", n)
	}
}

func TestDB_Commit_ReplicaRefusalFailsTheWriters(t *testing.T) {
	rep := newMapReplica()
	deposed := errors.New("deposed")
	rep.refuse = deposed
	db := storetest.NewWithOptions(t, store.Options{Replicator: rep})
	err := db.Commit(context.Background(), store.Writes{Schedules: []store.Schedule{{ID: "a"}}})
	if !errors.Is(err, deposed) {
		t.Fatalf("Commit = %v, want the replica's refusal", err)
	}
	if err := db.ClearExecutions(context.Background()); !errors.Is(err, deposed) {
		t.Fatalf("ClearExecutions = %v, want the replica's refusal", err)
	}
}
