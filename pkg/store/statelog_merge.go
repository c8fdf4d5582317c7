package store

import (
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// mergeStates moves the latest entry of every schedule in
// schedule_state_log into schedule_state and empties the log. Failure is
// logged and tried again after the next commit: until then the entries
// stay where readers find them.
//
// It works as mergeRecent does, and for the same reason: each chunk is
// one read pass over the log that keeps the latest entries of the
// stateChunk smallest IDs above the previous chunk's (chunk: at
// most twice that many entries at a time), then one write transaction
// that applies them to that range of schedule_state; the last chunk
// drops the log. Until then the merged entries are in both, with the
// same meaning, and no writer runs between the chunks (exclusive; the
// caller is the committer, or Open before it starts). A merge cut short
// leaves the log whole; the next one applies it again.
func (db *DB) mergeStates() {
	db.exclusive.Lock()
	defer db.exclusive.Unlock()
	n, err := db.mergeStateChunks()
	if err != nil {
		db.log.Error("merging the firing-state log failed; will retry", "entries", db.stateN, "err", err)
		return
	}
	db.stateN = 0
	db.log.Debug("merged the firing-state log", "count", n)
}

func (db *DB) mergeStateChunks() (int, error) {
	var after []byte // the greatest ID merged so far; nil before the first chunk
	ck := chunk{k: db.opts.stateChunk}
	total := 0
	for i := 0; ; i++ {
		ck.reset(after)
		err := db.bolt.View(func(tx *bolt.Tx) error {
			return tx.Bucket(bucketStateLog).ForEach(func(k, v []byte) error {
				id, st, err := logEntry(v)
				if err != nil {
					return fmt.Errorf("state log %x: %w", k, err)
				}
				ck.offer(id, st) // a mark's st is empty
				return nil
			})
		})
		if err != nil {
			return 0, err
		}
		ck.finish()
		db.statePeak = max(db.statePeak, ck.peak)
		if i == 0 && ck.len() == 0 {
			return 0, nil
		}
		if db.opts.stateMergeHook != nil {
			if err := db.opts.stateMergeHook(i); err != nil {
				return 0, err
			}
		}
		last := !ck.more
		err = db.bolt.Update(func(tx *bolt.Tx) error {
			sched, state := tx.Bucket(bucketSchedules), tx.Bucket(bucketScheduleState)
			state.FillPercent = fillPercent
			for j := range ck.len() {
				id, st := ck.key(j), ck.value(j)
				var err error
				switch {
				case len(st) == 0:
					err = state.Delete(id)
				case sched.Get(id) != nil:
					err = state.Put(id, st)
				}
				if err != nil {
					return fmt.Errorf("schedule %q state: %w", id, err)
				}
			}
			if !last {
				return nil
			}
			if err := tx.DeleteBucket(bucketStateLog); err != nil {
				return fmt.Errorf("bucket %s: %w", bucketStateLog, err)
			}
			if _, err := tx.CreateBucket(bucketStateLog); err != nil {
				return fmt.Errorf("bucket %s: %w", bucketStateLog, err)
			}
			return nil
		})
		if err != nil {
			return 0, err
		}
		total += ck.len()
		if last {
			return total, nil
		}
		after = append(after[:0], ck.key(ck.len()-1)...)
	}
}
