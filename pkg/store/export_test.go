package store

// Direct writes, for this package's tests only. In production every write
// goes through Commit, CommitAsync or CommitLazy, in the engine's order:
// a second write path would let a write overtake the engine's.

import (
	"context"
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// CreateSchedule stores s. It fails with ErrExists when a schedule with the
// same ID exists and replace is false. The write is committed and fsynced
// before CreateSchedule returns.
func (db *DB) CreateSchedule(ctx context.Context, s Schedule, replace bool) error {
	if err := validID("id", s.ID); err != nil {
		return err
	}
	v, err := appendSchedule(nil, &s)
	if err != nil {
		return fmt.Errorf("schedule %q: %w", s.ID, err)
	}
	return db.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSchedules)
		if !replace && b.Get([]byte(s.ID)) != nil {
			return fmt.Errorf("schedule %q: %w", s.ID, ErrExists)
		}
		log, err := openStateLog(tx)
		if err != nil {
			return err
		}
		return putSchedule(b, tx.Bucket(bucketScheduleState), log, s.ID, v)
	})
}

// UpdateSchedule reads schedule id, calls fn on it and stores the result,
// all in one write transaction, so concurrent updates never lose each
// other's changes. fn's error aborts the update and is returned as is;
// fn must not change the ID. It returns the stored schedule.
func (db *DB) UpdateSchedule(ctx context.Context, id string, fn func(*Schedule) error) (Schedule, error) {
	var s Schedule
	err := db.update(ctx, func(tx *bolt.Tx) error {
		var err error
		if s, err = getSchedule(tx, id); err != nil {
			return err
		}
		if err := fn(&s); err != nil {
			return err
		}
		if s.ID != id {
			return fmt.Errorf("schedule %q: update changed the id to %q", id, s.ID)
		}
		v, err := appendSchedule(nil, &s)
		if err != nil {
			return fmt.Errorf("schedule %q: %w", id, err)
		}
		log, err := openStateLog(tx)
		if err != nil {
			return err
		}
		return putSchedule(tx.Bucket(bucketSchedules), tx.Bucket(bucketScheduleState), log, id, v)
	})
	if err != nil {
		return Schedule{}, err
	}
	return s, nil
}

// DeleteSchedule removes schedule id (its execution history stays). It
// fails with ErrNotFound when there is none.
func (db *DB) DeleteSchedule(ctx context.Context, id string) error {
	return db.update(ctx, func(tx *bolt.Tx) error {
		if tx.Bucket(bucketSchedules).Get([]byte(id)) == nil {
			return fmt.Errorf("schedule %q: %w", id, ErrNotFound)
		}
		log, err := openStateLog(tx)
		if err != nil {
			return err
		}
		return deleteSchedule(tx.Bucket(bucketSchedules), tx.Bucket(bucketScheduleState), log, id)
	})
}

// GetHandler returns the handler id or ErrNotFound.
func (db *DB) GetHandler(ctx context.Context, id string) (Handler, error) {
	var h Handler
	err := db.view(ctx, func(tx *bolt.Tx) error {
		return getJSON(tx.Bucket(bucketHandlers), "handler", id, &h)
	})
	return h, err
}

// DeleteHandler removes handler id or fails with ErrNotFound.
func (db *DB) DeleteHandler(ctx context.Context, id string) error {
	return db.update(ctx, func(tx *bolt.Tx) error {
		return deleteKey(tx.Bucket(bucketHandlers), "handler", id)
	})
}

func getJSON(b *bolt.Bucket, kind, id string, v any) error {
	raw := b.Get([]byte(id))
	if raw == nil {
		return fmt.Errorf("%s %q: %w", kind, id, ErrNotFound)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("%s %q: %w", kind, id, err)
	}
	return nil
}

func deleteKey(b *bolt.Bucket, kind, id string) error {
	if b.Get([]byte(id)) == nil {
		return fmt.Errorf("%s %q: %w", kind, id, ErrNotFound)
	}
	return b.Delete([]byte(id))
}
