package store

import (
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// defaultMergeRecentAt is how many entries idx_schedule_recent collects
// before they are merged into idx_schedule. Larger merges touch each page
// of idx_schedule once for more entries; the cost is a longer scan of the
// recent entries by a per-schedule history query (about a millisecond per
// 30,000 entries).
const defaultMergeRecentAt = 128 << 10

// defaultMergeChunk is how many entries one transaction of a merge moves.
// bbolt builds a node for every page a transaction touches and holds them
// until it commits; the entries of a merge belong to every schedule, so in
// one transaction they touched every page of idx_schedule, and under
// saturation that transaction was most of the scheduler's heap (live 53
// to 97 MB against 18 to 30 between merges; docs/performance.md). Sorted,
// a chunk is one range of idx_schedule, and its transaction holds the
// pages of that range only; each page is still written about once per
// merge. A pass collecting a chunk holds at most twice this many keys.
const defaultMergeChunk = 16 << 10

// mergeRecent moves every entry of idx_schedule_recent into idx_schedule.
// Failure is logged and tried again after the next commit: until then the
// entries stay where queries find them.
//
// Why two buckets: idx_schedule is ordered by schedule, so with many
// schedules each new execution lands on a different page, and a group
// commit of a few hundred executions rewrote a few hundred pages of it
// (bbolt copies every page a transaction touches). idx_schedule_recent is
// ordered by execution key, which grows with time, so a commit appends to
// its last page; the merge then puts its entries in index order, each page
// of idx_schedule written once for all the entries it receives.
//
// Each chunk of the merge is one read pass over idx_schedule_recent that
// keeps the mergeChunk smallest index keys above the previous chunk's
// (runMerge, chunk: at most twice that many at a time), then one write
// transaction that puts them; the last empties idx_schedule_recent. A
// merge used to collect and sort every entry first: 9 MB for its 131,072
// entries, live for the whole merge, which under saturation doubled the
// scheduler's live heap (docs/performance.md). Until the last chunk, the
// merged entries are in both buckets: scheduleKeys returns such an entry
// once, unindexSchedule removes it from both, and no other writer runs
// (exclusive), so none can delete an execution whose entry a later chunk
// would put back, nor add an entry between passes. A merge cut short (an
// error, a crash) leaves entries in both; the next one puts them again,
// which changes nothing.
func (db *DB) mergeRecent() {
	db.exclusive.Lock()
	defer db.exclusive.Unlock()
	n, err := db.mergeRecentChunks()
	if err != nil {
		db.log.Error("merging the recent per-schedule index failed; will retry", "entries", db.recentN, "err", err)
		return
	}
	db.recentN = 0
	db.log.Debug("merged the recent per-schedule index", "entries", n)
}

func (db *DB) mergeRecentChunks() (int, error) {
	var key []byte
	return db.runMerge(logMerge{
		log: bucketRecent, k: db.opts.mergeChunk, hook: db.opts.mergeHook, peak: &db.mergePeak,
		offer: func(ck *chunk, k, v []byte) error {
			key = appendIndexKey(key[:0], v, k)
			ck.offer(key, nil)
			return nil
		},
		apply: func(tx *bolt.Tx, ck *chunk) error {
			by := tx.Bucket(bucketBySchedule)
			if by == nil {
				return fmt.Errorf("store buckets missing (file not migrated)")
			}
			by.FillPercent = fillPercent
			for j := range ck.len() {
				if err := by.Put(ck.key(j), nil); err != nil {
					return fmt.Errorf("idx_schedule: %w", err)
				}
			}
			return nil
		},
	})
}
