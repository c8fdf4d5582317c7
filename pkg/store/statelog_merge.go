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
// stateChunk smallest IDs above the previous chunk's (runMerge, chunk: at
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
	return db.runMerge(logMerge{
		log: bucketStateLog, k: db.opts.stateChunk, hook: db.opts.stateMergeHook, peak: &db.statePeak,
		offer: func(ck *chunk, k, v []byte) error {
			id, st, err := logEntry(v)
			if err != nil {
				return fmt.Errorf("state log %x: %w", k, err)
			}
			ck.offer(id, st) // a mark's st is empty
			return nil
		},
		apply: func(tx *bolt.Tx, ck *chunk) error {
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
			return nil
		},
	})
}
