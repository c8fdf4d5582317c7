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
// (chunkKeys: at most twice that many at a time), then one write
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
	var after []byte // the greatest key merged so far; nil before the first chunk
	ck := chunkKeys{k: db.opts.mergeChunk}
	total := 0
	for i := 0; ; i++ {
		ck.reset(after)
		err := db.bolt.View(func(tx *bolt.Tx) error {
			recent := tx.Bucket(bucketRecent)
			if recent == nil || tx.Bucket(bucketBySchedule) == nil {
				return fmt.Errorf("store buckets missing (file not migrated)")
			}
			return recent.ForEach(func(k, v []byte) error {
				ck.offer(v, k)
				return nil
			})
		})
		if err != nil {
			return 0, err
		}
		ck.finish()
		db.mergePeak = max(db.mergePeak, ck.peak)
		if i == 0 && ck.keys.len() == 0 {
			return 0, nil
		}
		if db.opts.mergeHook != nil {
			if err := db.opts.mergeHook(i); err != nil {
				return 0, err
			}
		}
		last := !ck.more()
		err = db.bolt.Update(func(tx *bolt.Tx) error {
			by := tx.Bucket(bucketBySchedule)
			by.FillPercent = fillPercent
			for j := range ck.keys.len() {
				if err := by.Put(ck.keys.at(j), nil); err != nil {
					return fmt.Errorf("idx_schedule: %w", err)
				}
			}
			if !last {
				return nil
			}
			// The last chunk empties idx_schedule_recent: a merge of one
			// chunk is one transaction.
			if err := tx.DeleteBucket(bucketRecent); err != nil {
				return fmt.Errorf("bucket %s: %w", bucketRecent, err)
			}
			if _, err := tx.CreateBucket(bucketRecent); err != nil {
				return fmt.Errorf("bucket %s: %w", bucketRecent, err)
			}
			return nil
		})
		if err != nil {
			return 0, err
		}
		total += ck.keys.len()
		if last {
			return total, nil
		}
		after = append(after[:0], ck.keys.at(ck.keys.len()-1)...)
	}
}

// chunkKeys keeps, of the index keys it is offered, the k smallest above
// after, holding at most 2k at a time: when 2k are held it sorts them,
// drops the greater half and admits only keys below the greatest kept.
type chunkKeys struct {
	k       int
	after   []byte
	below   []byte // admit only keys less than this; nil: any
	keys    indexKeys
	spare   indexKeys // keep's other buffer
	scratch []byte
	above   int // keys offered above after
	peak    int // the most keys held at once
}

func (c *chunkKeys) reset(after []byte) {
	c.after, c.below, c.above = after, nil, 0
	c.keys.buf, c.keys.spans = c.keys.buf[:0], c.keys.spans[:0]
}

// offer considers the index key of id and ek.
func (c *chunkKeys) offer(id, ek []byte) {
	c.scratch = appendIndexKey(c.scratch[:0], id, ek)
	if c.after != nil && bytes.Compare(c.scratch, c.after) <= 0 {
		return
	}
	c.above++
	if c.below != nil && bytes.Compare(c.scratch, c.below) >= 0 {
		return
	}
	c.keys.addKey(c.scratch)
	c.peak = max(c.peak, c.keys.len())
	if c.keys.len() >= 2*c.k {
		c.keep()
		c.below = append(c.below[:0], c.keys.at(c.k-1)...)
	}
}

// finish leaves the k smallest keys offered above after, in order.
func (c *chunkKeys) finish() { c.keep() }

// more says keys above after remain beyond those kept.
func (c *chunkKeys) more() bool { return c.above > c.keys.len() }

// keep sorts the keys and drops all but the k smallest, compacting them
// into the spare buffer, which becomes the keys' (the two are reused for
// the whole merge).
func (c *chunkKeys) keep() {
	c.keys.sort()
	if c.keys.len() <= c.k {
		return
	}
	c.spare.buf, c.spare.spans = c.spare.buf[:0], c.spare.spans[:0]
	for i := range c.k {
		c.spare.addKey(c.keys.at(i))
	}
	c.keys, c.spare = c.spare, c.keys
}

// indexKeys holds idx_schedule keys in one buffer: a merge's pass
// collects tens of thousands of them, and one allocation instead of one
// each keeps that off the collector.
type indexKeys struct {
	buf   []byte
	spans []keySpan
}

type keySpan struct{ lo, hi int }

// addKey appends key.
func (ks *indexKeys) addKey(key []byte) {
	lo := len(ks.buf)
	ks.buf = append(ks.buf, key...)
	ks.spans = append(ks.spans, keySpan{lo, len(ks.buf)})
}

func (ks *indexKeys) len() int { return len(ks.spans) }

func (ks *indexKeys) at(i int) []byte {
	sp := ks.spans[i]
	return ks.buf[sp.lo:sp.hi:sp.hi]
}

func (ks *indexKeys) sort() {
	slices.SortFunc(ks.spans, func(a, b keySpan) int {
		return bytes.Compare(ks.buf[a.lo:a.hi], ks.buf[b.lo:b.hi])
	})
}
