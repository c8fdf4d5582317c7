package store

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// ctxCheckEvery is how many records a scan visits between ctx checks.
const ctxCheckEvery = 1024

// pruneChunk caps the deletions Prune adds to one group commit, so pruning
// a large backlog makes no commit much longer than a full batch.
const pruneChunk = 250

// GetExecution returns every attempt of execution id in attempt order, or
// ErrNotFound.
func (db *DB) GetExecution(ctx context.Context, id string) ([]Execution, error) {
	var out []Execution
	err := db.view(ctx, func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketExecutions).Cursor()
		p := []byte(id)
		for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
			if len(k) != len(p)+attemptKeySuffLen {
				continue // another id that starts with this one
			}
			var e Execution
			if err := decodeExecution(v, &e); err != nil {
				return fmt.Errorf("execution %q: %w", id, err)
			}
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("execution %q: %w", id, ErrNotFound)
	}
	return out, nil
}

// ListExecutions returns the attempts matching f, newest first (by
// execution ID, then attempt), at most f.Limit when it is positive. A
// schedule, handler or execution filter, or an unfinished status, is served
// from an index; other queries walk the history backwards until Limit. It
// reads as far as it must: ListExecutionsPage bounds that.
func (db *DB) ListExecutions(ctx context.Context, f ExecutionFilter) ([]Execution, error) {
	p, err := db.listExecutions(ctx, f, 0)
	return p.Executions, err
}

// ListExecutionsPage is ListExecutions for one page: it starts after
// f.Cursor (a Next of an earlier page; empty: at the newest) and visits at
// most PageScan records, so a page costs the same at any size of history
// whatever the filter. A page cut short by the end of its Limit or of its
// visits has a Next cursor to continue from; one without Next is the last.
func (db *DB) ListExecutionsPage(ctx context.Context, f ExecutionFilter) (ExecutionPage, error) {
	return db.listExecutions(ctx, f, PageScan)
}

func (db *DB) listExecutions(ctx context.Context, f ExecutionFilter, scan int) (ExecutionPage, error) {
	page := ExecutionPage{Executions: []Execution{}}
	before, err := decodeCursor(f.Cursor)
	if err != nil {
		return page, err
	}
	err = db.view(ctx, func(tx *bolt.Tx) error {
		if f.Status != "" && f.ExecutionID == "" {
			// The counters say whether any record has the status: a
			// filter that matches none reads nothing else.
			c, err := readCounters(tx.Bucket(bucketMeta))
			if err != nil {
				return err
			}
			if c.ByStatus[f.Status] == 0 {
				return nil
			}
		}
		exec := tx.Bucket(bucketExecutions)
		var next func() []byte // execution keys, newest first; nil at the end
		switch {
		case f.ExecutionID != "":
			next = cursorKeys(exec.Cursor(), []byte(f.ExecutionID), before, false)
		case f.ScheduleID != "":
			next = db.scheduleKeys(tx, f.ScheduleID, before)
		case f.HandlerID != "":
			next = cursorKeys(tx.Bucket(bucketByHandler).Cursor(), indexPrefix(f.HandlerID), before, true)
		case f.Status != "" && !f.Status.Finished():
			next = cursorKeys(tx.Bucket(bucketUnfinished).Cursor(), nil, before, false)
		default:
			next = cursorKeys(exec.Cursor(), nil, before, false)
		}
		n := 0
		for ek := next(); ek != nil; ek = next() {
			db.visit(bucketExecutions)
			if n++; n%ctxCheckEvery == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			v := exec.Get(ek)
			if v == nil {
				return fmt.Errorf("index entry for execution key %x: execution missing", ek)
			}
			var e Execution
			if err := decodeExecution(v, &e); err != nil {
				return fmt.Errorf("execution %x: %w", ek, err)
			}
			if f.match(&e) {
				page.Executions = append(page.Executions, e)
			}
			if (f.Limit > 0 && len(page.Executions) >= f.Limit) || (scan > 0 && n >= scan) {
				page.Next = encodeCursor(ek) // ek is only valid in tx: encoding copies it
				return nil
			}
		}
		return nil
	})
	if err != nil {
		return ExecutionPage{Executions: []Execution{}}, err
	}
	return page, nil
}

// cursorKeys walks c backwards over the keys with prefix that sort before
// prefix+before (all of them when before is nil) and returns them one per
// call, nil at the end; with index, the prefix is cut off so that what
// remains is the execution key.
func cursorKeys(c *bolt.Cursor, prefix, before []byte, index bool) func() []byte {
	var k []byte
	switch {
	case before == nil:
		k = reverseStart(c, prefix)
	case index:
		k = lastBefore(c, append(slices.Clip(prefix), before...))
	default:
		k = lastBefore(c, before)
	}
	started := false
	return func() []byte {
		if started {
			k, _ = c.Prev()
		}
		started = true
		if k == nil || !bytes.HasPrefix(k, prefix) {
			return nil
		}
		if index {
			return k[len(prefix):]
		}
		return k
	}
}

// lastBefore positions c on the last key less than k and returns it, nil
// when there is none.
func lastBefore(c *bolt.Cursor, k []byte) []byte {
	if at, _ := c.Seek(k); at == nil {
		last, _ := c.Last()
		return last
	}
	prev, _ := c.Prev()
	return prev
}

// scheduleKeys returns the execution keys of schedule id before before (all
// when it is nil), newest first: the entries of idx_schedule merged with
// those still in idx_schedule_recent, which holds at most a merge's worth
// (mergeRecentAt) and is read back from before to its first entry.
func (db *DB) scheduleKeys(tx *bolt.Tx, id string, before []byte) func() []byte {
	older := cursorKeys(tx.Bucket(bucketBySchedule).Cursor(), indexPrefix(id), before, true)
	var fresh [][]byte // ascending
	c := tx.Bucket(bucketRecent).Cursor()
	n := 0
	for k, v := c.First(); k != nil && (before == nil || bytes.Compare(k, before) < 0); k, v = c.Next() {
		n++
		if string(v) == id {
			fresh = append(fresh, k)
		}
	}
	db.visitN(bucketRecent, n)
	a, i := older(), len(fresh)-1
	return func() []byte {
		if i >= 0 && a != nil && bytes.Equal(fresh[i], a) {
			i-- // in both buckets: a merge has not finished (mergeRecent)
		}
		if i >= 0 && (a == nil || bytes.Compare(fresh[i], a) > 0) {
			i--
			return fresh[i+1]
		}
		k := a
		if a != nil {
			a = older()
		}
		return k
	}
}

func (f *ExecutionFilter) match(e *Execution) bool {
	return (f.ExecutionID == "" || e.ID == f.ExecutionID) &&
		(f.ScheduleID == "" || e.ScheduleID == f.ScheduleID) &&
		(f.HandlerID == "" || e.HandlerID == f.HandlerID) &&
		(f.Status == "" || e.Status == f.Status)
}

// reverseStart positions c on the last key with prefix p (or on a key
// before it, which the caller's prefix test rejects) and returns that key.
func reverseStart(c *bolt.Cursor, p []byte) []byte {
	end := prefixEnd(p)
	if end == nil {
		k, _ := c.Last()
		return k
	}
	if k, _ := c.Seek(end); k == nil {
		k, _ = c.Last()
		return k
	}
	k, _ := c.Prev()
	return k
}

// Unfinished returns the attempts still pending or running, oldest first:
// after a crash these are the ones to mark interrupted. It reads only the
// unfinished index, so its cost does not grow with the history.
func (db *DB) Unfinished(ctx context.Context) ([]Execution, error) {
	out := []Execution{}
	err := db.view(ctx, func(tx *bolt.Tx) error {
		exec := tx.Bucket(bucketExecutions)
		return tx.Bucket(bucketUnfinished).ForEach(func(k, _ []byte) error {
			v := exec.Get(k)
			if v == nil {
				return fmt.Errorf("unfinished index entry %x: execution missing", k)
			}
			var e Execution
			if err := decodeExecution(v, &e); err != nil {
				return fmt.Errorf("execution %x: %w", k, err)
			}
			out = append(out, e)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Stats summarises the history from counters kept in the same transaction
// as every execution write, so it costs one small read however long the
// history is. Total, AvgDurationMS and ByHandler count finished attempts;
// ByStatus counts every stored attempt by its current state.
func (db *DB) Stats(ctx context.Context) (Stats, error) {
	var s Stats
	err := db.view(ctx, func(tx *bolt.Tx) error {
		c, err := readCounters(tx.Bucket(bucketMeta))
		if err != nil {
			return err
		}
		s = c.stats()
		return nil
	})
	return s, err
}

// ClearExecutions removes all execution history (schedules and handlers
// stay), including unfinished attempts, and resets the counters.
func (db *DB) ClearExecutions(ctx context.Context) error {
	return db.update(ctx, func(tx *bolt.Tx) error {
		for _, name := range executionBuckets {
			if err := tx.DeleteBucket(name); err != nil {
				return fmt.Errorf("bucket %s: %w", name, err)
			}
			if _, err := tx.CreateBucket(name); err != nil {
				return fmt.Errorf("bucket %s: %w", name, err)
			}
		}
		if err := tx.Bucket(bucketMeta).Delete(keyCounters); err != nil {
			return err
		}
		// Inside the transaction: a refused clear leaves the file as it was.
		return db.replicateOne(ctx, Op{Bucket: ReplicaExecutions, Delete: true})
	})
}

// Prune applies Options.Retention as of now and returns the number of
// attempt records removed. It walks from the oldest key: finished attempts
// go while more than MaxCount records are stored or while they are older
// than MaxAge; the walk stops at the first finished attempt that is young
// enough once the count is within MaxCount. Keys are time-ordered IDs, so
// this visits only the expired prefix; a late retry of an old execution can
// shield older records behind it until it expires itself. Unfinished
// attempts are never pruned. Open runs Prune every PruneInterval.
//
// The deletions are done by the group committer, at most pruneChunk in
// each of its transactions, alongside the writes queued with them: a
// prune of a large backlog costs the fires of that time a longer group
// commit, never a wait for a transaction and an fsync of its own (one
// transaction of 5,000 deletions held commits up to 390 ms).
func (db *DB) Prune(ctx context.Context, now time.Time) (int, error) {
	r := db.opts.Retention
	if r.zero() {
		return 0, nil
	}
	var cutoff time.Time
	if r.MaxAge > 0 {
		cutoff = now.Add(-r.MaxAge)
	}
	total := 0
	for {
		o := &pruneOrder{cutoff: cutoff, maxCount: r.MaxCount}
		errc := make(chan error, 1)
		db.enqueueRequest(&request{prune: o, size: pruneChunk, done: func(err error) { errc <- err }}, false)
		select {
		case err := <-errc:
			if err != nil {
				return total, fmt.Errorf("prune: %w", err)
			}
		case <-ctx.Done():
			return total, ctx.Err()
		}
		total += o.n
		if !o.more {
			return total, nil
		}
	}
}

// pruneOrder is one chunk of a Prune, done by the committer in a group
// commit (txWriter.prune); n and more are its answer.
type pruneOrder struct {
	cutoff   time.Time // zero: no age limit
	maxCount int       // 0: no count limit
	n        int       // records removed
	more     bool      // the chunk was full: there may be more to remove
	deleted  [][]byte  // keys removed, for the Replicator
}

// prune removes up to pruneChunk expired records (see Prune).
func (w *txWriter) prune(o *pruneOrder) error {
	o.n, o.more = 0, false
	cnt, err := w.counters()
	if err != nil {
		return err
	}
	excess := int64(0)
	if o.maxCount > 0 {
		excess = cnt.Records - int64(o.maxCount)
	}
	type kv struct{ k, v []byte }
	var del []kv
	c := w.exec.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if len(del) >= pruneChunk {
			o.more = true
			break
		}
		var e Execution
		if err := decodeExecution(v, &e); err != nil {
			return fmt.Errorf("execution %x: %w", k, err)
		}
		if !e.Status.Finished() {
			continue
		}
		old := !o.cutoff.IsZero() && e.refTime().Before(o.cutoff)
		if excess <= int64(len(del)) && !old {
			break
		}
		del = append(del, kv{slices.Clone(k), slices.Clone(v)})
	}
	for _, d := range del {
		if err := w.deleteExecution(d.k, d.v); err != nil {
			return err
		}
	}
	o.n = len(del)
	o.deleted = o.deleted[:0]
	for _, d := range del {
		o.deleted = append(o.deleted, d.k)
	}
	return nil
}

// refTime is the attempt's latest timestamp, used for age retention.
func (e *Execution) refTime() time.Time {
	switch {
	case !e.CompletedAt.IsZero():
		return e.CompletedAt
	case !e.StartedAt.IsZero():
		return e.StartedAt
	}
	return e.ScheduledAt
}
