package store

import (
	"bytes"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// defaultMergeRecentAt is how many entries idx_schedule_recent collects
// before they are merged into idx_schedule. Larger merges touch each page
// of idx_schedule once for more entries; the cost is a longer scan of the
// recent entries by a per-schedule history query (about a millisecond per
// 30,000 entries).
const defaultMergeRecentAt = 128 << 10

// mergeRecent moves every entry of idx_schedule_recent into idx_schedule
// in one transaction. Failure is logged and tried again after the next
// commit: until then the entries stay where queries find them.
//
// Why two buckets: idx_schedule is ordered by schedule, so with many
// schedules each new execution lands on a different page, and a group
// commit of a few hundred executions rewrote a few hundred pages of it
// (bbolt copies every page a transaction touches). idx_schedule_recent is
// ordered by execution key, which grows with time, so a commit appends to
// its last page; the merge then puts its entries in index order, each page
// of idx_schedule written once for all the entries it receives.
func (db *DB) mergeRecent() {
	var n int
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		var err error
		n, err = mergeRecentTx(tx)
		return err
	})
	if err != nil {
		db.log.Error("merging the recent per-schedule index failed; will retry", "entries", db.recentN, "err", err)
		return
	}
	db.recentN = 0
	db.log.Debug("merged the recent per-schedule index", "entries", n)
}

func mergeRecentTx(tx *bolt.Tx) (int, error) {
	recent, by := tx.Bucket(bucketRecent), tx.Bucket(bucketBySchedule)
	if recent == nil || by == nil {
		return 0, fmt.Errorf("store buckets missing (file not migrated)")
	}
	var keys [][]byte
	if err := recent.ForEach(func(k, v []byte) error {
		keys = append(keys, indexKey(string(v), k))
		return nil
	}); err != nil {
		return 0, err
	}
	slices.SortFunc(keys, bytes.Compare)
	by.FillPercent = fillPercent
	for _, k := range keys {
		if err := by.Put(k, nil); err != nil {
			return 0, fmt.Errorf("idx_schedule: %w", err)
		}
	}
	if err := tx.DeleteBucket(bucketRecent); err != nil {
		return 0, fmt.Errorf("bucket %s: %w", bucketRecent, err)
	}
	if _, err := tx.CreateBucket(bucketRecent); err != nil {
		return 0, fmt.Errorf("bucket %s: %w", bucketRecent, err)
	}
	return len(keys), nil
}
