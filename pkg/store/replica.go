package store

import (
	"context"
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// A cluster of schedulers (pkg/cluster) keeps this file as the leader's
// working copy and a replica of it elsewhere. The replica holds the
// logical records (schedules, firing states, attempt records,
// notifications), not bbolt's pages: the indexes and counters are derived
// from them, and Restore derives them again through the same code paths a
// commit takes, so a rebuilt file is indistinguishable from the original.

// Logical buckets of an Op.
const (
	ReplicaSchedules     = "schedules"
	ReplicaStates        = "states"
	ReplicaExecutions    = "executions"
	ReplicaNotifications = "notifications"
	ReplicaHandlers      = "handlers"
)

// ReplicaBuckets lists the buckets in the order Restore must see them: a
// state applies only to a schedule already there.
var ReplicaBuckets = []string{ReplicaSchedules, ReplicaStates, ReplicaExecutions, ReplicaNotifications, ReplicaHandlers}

// Op is one record put or deleted by a commit. Value is the store's own
// encoding of the record; a Delete with a nil Key removes the whole
// bucket (ClearExecutions).
type Op struct {
	Bucket string
	Key    []byte
	Value  []byte
	Delete bool
}

// Replicator receives the write set of every group commit after bbolt
// applied it and before the writers are told: Commit returns only once
// Replicate did. Each group is one Writes (or one prune chunk) and must be
// applied atomically, groups in order. An error fails the commit's
// writers; the local file keeps the writes, so a replicated scheduler that
// sees one must stop writing and rebuild its file from the replica before
// it writes again (pkg/cluster steps down).
type Replicator interface {
	Replicate(ctx context.Context, groups [][]Op) error
}

// ops returns r's write set in the order applyAll applies it.
func (r *request) ops() []Op {
	var ops []Op
	for i, s := range r.w.Schedules {
		ops = append(ops,
			Op{Bucket: ReplicaSchedules, Key: []byte(s.ID), Value: r.sched[i]},
			Op{Bucket: ReplicaStates, Key: []byte(s.ID), Delete: true})
	}
	for _, id := range r.w.DeleteSchedules {
		ops = append(ops,
			Op{Bucket: ReplicaSchedules, Key: []byte(id), Delete: true},
			Op{Bucket: ReplicaStates, Key: []byte(id), Delete: true})
	}
	for i, s := range r.w.ScheduleStates {
		ops = append(ops, Op{Bucket: ReplicaStates, Key: []byte(s.ID), Value: r.state[i]})
	}
	for i := range r.w.Executions {
		ops = append(ops, Op{Bucket: ReplicaExecutions, Key: r.keys[i], Value: r.exec[i]})
	}
	for i, n := range r.w.Notifications {
		ops = append(ops, Op{Bucket: ReplicaNotifications, Key: []byte(n.ID), Value: r.notif[i]})
	}
	for _, id := range r.w.DeleteNotifications {
		ops = append(ops, Op{Bucket: ReplicaNotifications, Key: []byte(id), Delete: true})
	}
	if r.prune != nil {
		for _, k := range r.prune.deleted {
			ops = append(ops, Op{Bucket: ReplicaExecutions, Key: k, Delete: true})
		}
	}
	return ops
}

// replicate hands batch's write set to the Replicator, if there is one.
func (db *DB) replicate(batch []*request) error {
	if db.opts.Replicator == nil {
		return nil
	}
	groups := make([][]Op, 0, len(batch))
	for _, r := range batch {
		if ops := r.ops(); len(ops) > 0 {
			groups = append(groups, ops)
		}
	}
	if len(groups) == 0 {
		return nil
	}
	if err := db.opts.Replicator.Replicate(context.Background(), groups); err != nil {
		return fmt.Errorf("replicate %d writes: %w", len(groups), err)
	}
	return nil
}

// replicateOne hands a write made outside the group commit (a handler
// record, a clear) to the Replicator; the caller calls it inside the
// write's transaction, so that a refusal rolls the write back.
func (db *DB) replicateOne(ctx context.Context, op Op) error {
	if db.opts.Replicator == nil {
		return nil
	}
	return db.opts.Replicator.Replicate(ctx, [][]Op{{op}})
}

// Restore applies ops, read back from a replica (in ReplicaBuckets order),
// to the file, rebuilding indexes and counters as a commit does. It does
// not call the Replicator. The caller restores into an empty file, before
// anything else uses it.
func (db *DB) Restore(ctx context.Context, ops []Op) error {
	return db.update(ctx, func(tx *bolt.Tx) error {
		w, err := newTxWriter(tx)
		if err != nil {
			return err
		}
		for _, op := range ops {
			if err := w.restore(op); err != nil {
				return fmt.Errorf("restore %s %q: %w", op.Bucket, op.Key, err)
			}
		}
		return w.flush()
	})
}

func (w *txWriter) restore(op Op) error {
	if op.Delete {
		return fmt.Errorf("restore takes puts only")
	}
	switch op.Bucket {
	case ReplicaSchedules:
		var s Schedule
		if err := decodeSchedule(op.Value, &s); err != nil {
			return err
		}
		return putSchedule(w.sched, w.state, w.stlog, string(op.Key), op.Value)
	case ReplicaStates:
		if w.sched.Get(op.Key) == nil {
			return nil // its schedule was deleted: the state goes with it
		}
		s := Schedule{ID: string(op.Key)}
		if err := overlayState(&s, op.Value); err != nil {
			return err
		}
		if w.stlog.last() == 0 {
			// Nothing in the log to supersede it (a restore starts from
			// an empty file): put in place, with no merge to follow.
			return w.state.Put(op.Key, op.Value)
		}
		return w.stlog.putState(string(op.Key), op.Value)
	case ReplicaExecutions:
		var e Execution
		if err := decodeExecution(op.Value, &e); err != nil {
			return err
		}
		return w.putExecution(op.Key, &e, op.Value)
	case ReplicaNotifications:
		var n Notification
		if err := json.Unmarshal(op.Value, &n); err != nil {
			return err
		}
		return putNotifications(w.tx, []Notification{n}, [][]byte{op.Value}, nil)
	case ReplicaHandlers:
		var h Handler
		if err := json.Unmarshal(op.Value, &h); err != nil {
			return err
		}
		return w.tx.Bucket(bucketHandlers).Put(op.Key, op.Value)
	}
	return fmt.Errorf("unknown bucket")
}
