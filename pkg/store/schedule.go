package store

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// GetSchedule returns the schedule id or ErrNotFound.
func (db *DB) GetSchedule(ctx context.Context, id string) (Schedule, error) {
	var s Schedule
	err := db.view(ctx, func(tx *bolt.Tx) error {
		var err error
		s, err = getSchedule(tx, id)
		return err
	})
	return s, err
}

// ListSchedules returns every schedule ordered by ID.
func (db *DB) ListSchedules(ctx context.Context) ([]Schedule, error) {
	out := []Schedule{}
	err := db.eachSchedule(ctx, false, func(s Schedule) error {
		out = append(out, s)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// EachSchedule calls fn with every schedule in ID order, in one read
// transaction, and stops at fn's first error, which it returns. Unlike
// ListSchedules it holds one record at a time: the scheduler loads its
// schedules with it, and a slice of them all would be a transient copy as
// large as what it keeps. It reads each record once, in one pass over
// schedules and schedule_state together (both are in ID order), rather
// than looking each state entry up; the states still in
// schedule_state_log (none after Open) are read first, in one pass.
func (db *DB) EachSchedule(ctx context.Context, fn func(Schedule) error) error {
	return db.eachSchedule(ctx, false, fn)
}

// EachScheduleView is EachSchedule without copying: the strings and raw
// messages of the record fn gets are views of the file's pages, valid only
// until fn returns, so fn copies what it keeps. The scheduler loads with
// it: the copies EachSchedule makes (six a schedule) were garbage the
// moment the engine had packed them.
func (db *DB) EachScheduleView(ctx context.Context, fn func(Schedule) error) error {
	return db.eachSchedule(ctx, true, fn)
}

func (db *DB) eachSchedule(ctx context.Context, alias bool, fn func(Schedule) error) error {
	return db.view(ctx, func(tx *bolt.Tx) error {
		logged, err := loggedStates(tx)
		if err != nil {
			return err
		}
		st := tx.Bucket(bucketScheduleState).Cursor()
		sk, sv := st.First()
		c := tx.Bucket(bucketSchedules).Cursor()
		// One record for the whole walk: decoding takes its address, so
		// one declared in the loop was a heap allocation a schedule, 3.5
		// MB of garbage at start-up with 10,000 of them.
		var s Schedule
		for k, v := c.First(); k != nil; k, v = c.Next() {
			db.visit(bucketSchedules)
			s = Schedule{}
			if err := decodeScheduleAs(v, &s, alias); err != nil {
				return fmt.Errorf("schedule %q: %w", k, err)
			}
			for sk != nil && bytes.Compare(sk, k) < 0 {
				sk, sv = st.Next() // the state of a deleted schedule
			}
			var stored []byte
			if sk != nil && bytes.Equal(sk, k) {
				stored = sv
			}
			lv, found := logged[string(k)]
			if err := overlayLatest(&s, lv, found, stored); err != nil {
				return err
			}
			if err := fn(s); err != nil {
				return err
			}
		}
		return nil
	})
}

// PutHandler stores h, replacing any handler with the same ID.
func (db *DB) PutHandler(ctx context.Context, h Handler) error {
	if err := validID("id", h.ID); err != nil {
		return err
	}
	v, err := json.Marshal(h)
	if err != nil {
		return fmt.Errorf("handler %q: %w", h.ID, err)
	}
	return db.update(ctx, func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketHandlers).Put([]byte(h.ID), v); err != nil {
			return err
		}
		// Replicated too: a new leader's recovery asks the handler an
		// attempt ran on only if it knows what protocol it speaks.
		return db.replicateOne(ctx, Op{Bucket: ReplicaHandlers, Key: []byte(h.ID), Value: v})
	})
}

// ListHandlers returns every handler ordered by ID.
func (db *DB) ListHandlers(ctx context.Context) ([]Handler, error) {
	return list(ctx, db, bucketHandlers, func(_ *bolt.Tx, k, v []byte) (Handler, error) {
		var h Handler
		if err := json.Unmarshal(v, &h); err != nil {
			return Handler{}, fmt.Errorf("handler %q: %w", k, err)
		}
		return h, nil
	})
}

// list decodes every entry of bucket, in key order.
func list[T any](ctx context.Context, db *DB, bucket []byte, decode func(tx *bolt.Tx, k, v []byte) (T, error)) ([]T, error) {
	out := []T{}
	err := db.view(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucket).ForEach(func(k, v []byte) error {
			x, err := decode(tx, k, v)
			if err != nil {
				return err
			}
			out = append(out, x)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
