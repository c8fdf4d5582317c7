package store

import (
	"bytes"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// mergeStates moves the latest entry of every schedule in
// schedule_state_log into schedule_state and empties the log. Failure is
// logged and tried again after the next commit: until then the entries
// stay where readers find them.
//
// It works as mergeRecent does, and for the same reason: each chunk is
// one read pass over the log that keeps the latest entries of the
// stateChunk smallest IDs above the previous chunk's (stateChunkKeys: at
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
	ck := stateChunkKeys{k: db.opts.stateChunk}
	total := 0
	for i := 0; ; i++ {
		ck.reset(after)
		err := db.bolt.View(func(tx *bolt.Tx) error {
			return tx.Bucket(bucketStateLog).ForEach(func(k, v []byte) error {
				id, _, err := logEntry(v)
				if err != nil {
					return fmt.Errorf("state log %x: %w", k, err)
				}
				ck.offer(id, v)
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
				id, st, _ := logEntry(ck.value(j))
				var err error
				switch {
				case st == nil:
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
		id, _, _ := logEntry(ck.value(ck.len() - 1))
		after = append(after[:0], id...)
	}
}

// stateChunkKeys keeps, of the log entries it is offered in log order,
// the latest of each of the k smallest IDs above after, holding at most
// 2k entries at a time: when 2k are held it sorts them, keeps the latest
// of each ID and, of those, the k smallest, and then admits only IDs up
// to the greatest kept (a later entry of a kept ID replaces it).
type stateChunkKeys struct {
	k     int
	after []byte
	limit []byte // admit only IDs up to this; nil: any
	ents  stateEntries
	spare stateEntries // keep's other buffer
	more  bool         // an ID above after was left for a later chunk
	peak  int          // the most entries held at once
}

func (c *stateChunkKeys) reset(after []byte) {
	c.after, c.limit, c.more = after, nil, false
	c.ents.reset()
}

func (c *stateChunkKeys) offer(id, v []byte) {
	if c.after != nil && bytes.Compare(id, c.after) <= 0 {
		return
	}
	if c.limit != nil && bytes.Compare(id, c.limit) > 0 {
		c.more = true
		return
	}
	c.ents.add(len(id), v)
	c.peak = max(c.peak, len(c.ents.spans))
	if len(c.ents.spans) >= 2*c.k {
		c.keep()
	}
}

// finish leaves the latest entries of the k smallest IDs, in ID order.
func (c *stateChunkKeys) finish() { c.keep() }

func (c *stateChunkKeys) len() int { return len(c.ents.spans) }

func (c *stateChunkKeys) value(i int) []byte { return c.ents.value(i) }

// keep sorts the entries by ID and then by the order they were offered,
// and compacts the latest of each of the k smallest IDs into the spare
// buffer, which becomes the entries' (the two are reused for the whole
// merge).
func (c *stateChunkKeys) keep() {
	e := &c.ents
	slices.SortStableFunc(e.spans, func(a, b stateSpan) int { return bytes.Compare(e.id(a), e.id(b)) })
	c.spare.reset()
	for i, sp := range e.spans {
		if i+1 < len(e.spans) && bytes.Equal(e.id(sp), e.id(e.spans[i+1])) {
			continue // a later entry of the same ID follows
		}
		if len(c.spare.spans) == c.k {
			c.more = true
			break
		}
		c.spare.add(sp.idLen, e.buf[sp.lo:sp.hi])
	}
	c.ents, c.spare = c.spare, c.ents
	if c.more && c.len() > 0 {
		c.limit = append(c.limit[:0], c.ents.id(c.ents.spans[c.len()-1])...)
	}
}

// stateEntries holds log values in one buffer.
type stateEntries struct {
	buf   []byte
	spans []stateSpan
}

type stateSpan struct{ lo, hi, idLen int }

func (s *stateEntries) reset() { s.buf, s.spans = s.buf[:0], s.spans[:0] }

func (s *stateEntries) add(idLen int, v []byte) {
	lo := len(s.buf)
	s.buf = append(s.buf, v...)
	s.spans = append(s.spans, stateSpan{lo, len(s.buf), idLen})
}

func (s *stateEntries) id(sp stateSpan) []byte { return s.buf[sp.lo+1 : sp.lo+1+sp.idLen] }

func (s *stateEntries) value(i int) []byte {
	sp := s.spans[i]
	return s.buf[sp.lo:sp.hi:sp.hi]
}
