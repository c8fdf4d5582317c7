package store

import (
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// logMerge is the merge of a bucket written as a log (idx_schedule_recent,
// schedule_state_log) into the bucket it stands in for, a chunk at a
// time (runMerge): each chunk is one read pass over the log offering
// every entry (offer), then one write transaction applying the chunk
// (apply); the last chunk's transaction also empties the log.
type logMerge struct {
	log   []byte                             // the log's bucket
	k     int                                // keys a chunk
	offer func(ck *chunk, k, v []byte) error // offers the log entry k, v to ck
	apply func(tx *bolt.Tx, ck *chunk) error // writes ck's entries
	hook  func(chunk int) error              // tests: before the write of chunk i
	peak  *int                               // the most entries a chunk held at once (tests)
}

// runMerge runs m and returns the entries it applied. The caller holds
// db.exclusive.
func (db *DB) runMerge(m logMerge) (int, error) {
	var after []byte // the greatest key merged so far; nil before the first chunk
	ck := chunk{k: m.k}
	total := 0
	for i := 0; ; i++ {
		ck.reset(after)
		err := db.bolt.View(func(tx *bolt.Tx) error {
			log := tx.Bucket(m.log)
			if log == nil {
				return fmt.Errorf("store buckets missing (file not migrated)")
			}
			return log.ForEach(func(k, v []byte) error { return m.offer(&ck, k, v) })
		})
		if err != nil {
			return 0, err
		}
		ck.finish()
		*m.peak = max(*m.peak, ck.peak)
		if i == 0 && ck.len() == 0 {
			return 0, nil
		}
		if m.hook != nil {
			if err := m.hook(i); err != nil {
				return 0, err
			}
		}
		last := !ck.more
		err = db.bolt.Update(func(tx *bolt.Tx) error {
			if err := m.apply(tx, &ck); err != nil || !last {
				return err
			}
			// The last chunk empties the log: a merge of one chunk is one
			// transaction.
			if err := tx.DeleteBucket(m.log); err != nil {
				return fmt.Errorf("bucket %s: %w", m.log, err)
			}
			if _, err := tx.CreateBucket(m.log); err != nil {
				return fmt.Errorf("bucket %s: %w", m.log, err)
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
