package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"

	bolt "go.etcd.io/bbolt"
)

// counters are the running totals behind Stats, kept in meta/counters and
// updated in the same transaction as every execution write or delete.
type counters struct {
	Records  int64                       `json:"records"`  // attempt records stored
	Finished int64                       `json:"finished"` // of which in a final state
	DurSumMS float64                     `json:"dur_sum_ms"`
	ByStatus map[Status]int64            `json:"by_status"` // current state of every record
	Handlers map[string]*handlerCounters `json:"handlers"`  // finished records only
}

type handlerCounters struct {
	Total     int64   `json:"total"`
	Succeeded int64   `json:"succeeded"`
	DurSumMS  float64 `json:"dur_sum_ms"`
}

func newCounters() *counters {
	return &counters{ByStatus: map[Status]int64{}, Handlers: map[string]*handlerCounters{}}
}

// add counts e with sign +1 (written) or -1 (overwritten or deleted).
func (c *counters) add(e execMeta, sign int64) {
	c.Records += sign
	c.ByStatus[e.Status] += sign
	if c.ByStatus[e.Status] == 0 {
		delete(c.ByStatus, e.Status)
	}
	if !e.Status.Finished() {
		return
	}
	d := float64(sign) * e.DurationMS
	c.Finished += sign
	c.DurSumMS += d
	h := c.Handlers[e.HandlerID]
	if h == nil {
		h = &handlerCounters{}
		c.Handlers[e.HandlerID] = h
	}
	h.Total += sign
	h.DurSumMS += d
	if e.Status == StatusSucceeded {
		h.Succeeded += sign
	}
	if h.Total == 0 {
		delete(c.Handlers, e.HandlerID)
	}
}

func (c *counters) stats() Stats {
	s := Stats{Total: c.Finished, ByStatus: map[Status]int64{}, ByHandler: map[string]HandlerStats{}}
	for k, v := range c.ByStatus {
		s.ByStatus[k] = v
	}
	if c.Finished > 0 {
		s.AvgDurationMS = c.DurSumMS / float64(c.Finished)
	}
	for id, h := range c.Handlers {
		hs := HandlerStats{Total: h.Total, Succeeded: h.Succeeded, Failed: h.Total - h.Succeeded}
		if h.Total > 0 {
			hs.AvgDurationMS = h.DurSumMS / float64(h.Total)
		}
		s.ByHandler[id] = hs
	}
	return s
}

func readCounters(meta *bolt.Bucket) (*counters, error) {
	c := newCounters()
	if v := meta.Get(keyCounters); v != nil {
		if err := json.Unmarshal(v, c); err != nil {
			return nil, fmt.Errorf("meta %s: %w", keyCounters, err)
		}
		if c.ByStatus == nil {
			c.ByStatus = map[Status]int64{}
		}
		if c.Handlers == nil {
			c.Handlers = map[string]*handlerCounters{}
		}
	}
	return c, nil
}

const fillPercent = 0.9

// execFillPercent is the fill of the pages new attempt records are
// appended to. An attempt is appended running and rewritten a commit
// later with its outcome, about a third longer: on 90%-full pages every
// rewrite split its page in two, and the bucket settled at 58% full;
// appended at 70% the pages take the rewrites and end 88% full, a third
// fewer pages for the same history, and 8% fewer pages written per
// group commit (BenchmarkGroupCommit, docs/performance.md).
const execFillPercent = 0.7

// txWriter applies writes inside one write transaction, keeping indexes and
// counters consistent. Counters are read lazily and written once by flush.
type txWriter struct {
	tx                          *bolt.Tx
	meta, sched, exec           *bolt.Bucket
	bySched, byHandler, unfinis *bolt.Bucket
	recent, state               *bolt.Bucket
	stlog                       *stateLog
	c                           *counters
	dirty                       bool
	recentAdded                 int // entries put in recent
	// last is an upper bound of the keys in exec once lastRead (above).
	last     []byte
	lastRead bool
	// key is scratch for the keys of puts and lookups (bbolt copies a
	// key it keeps); vals holds values, which bbolt keeps as they are
	// until the commit (see value).
	key  []byte
	vals []byte
}

// valChunk is how many bytes value allocates at a time.
const valChunk = 4 << 10

// value returns a copy of v that stays valid until the transaction ends:
// a piece of a shared chunk, one allocation for many index values
// instead of one each.
func (w *txWriter) value(v []byte) []byte {
	if cap(w.vals)-len(w.vals) < len(v) {
		w.vals = make([]byte, 0, max(valChunk, len(v)))
	}
	lo := len(w.vals)
	w.vals = append(w.vals, v...)
	return w.vals[lo:len(w.vals):len(w.vals)]
}

// indexKey returns the index key of id and k in w's scratch, valid until the next
// call.
func (w *txWriter) indexKey(id string, k []byte) []byte {
	w.key = appendIndexKey(w.key[:0], id, k)
	return w.key
}

// idKey returns id as a key in w's scratch, valid until the next call.
func (w *txWriter) idKey(id string) []byte {
	w.key = append(w.key[:0], id...)
	return w.key
}

func newTxWriter(tx *bolt.Tx) (*txWriter, error) {
	w := &txWriter{
		tx:        tx,
		meta:      tx.Bucket(bucketMeta),
		sched:     tx.Bucket(bucketSchedules),
		exec:      tx.Bucket(bucketExecutions),
		bySched:   tx.Bucket(bucketBySchedule),
		byHandler: tx.Bucket(bucketByHandler),
		unfinis:   tx.Bucket(bucketUnfinished),
		recent:    tx.Bucket(bucketRecent),
		state:     tx.Bucket(bucketScheduleState),
	}
	if w.meta == nil || w.sched == nil || w.exec == nil || w.bySched == nil || w.byHandler == nil || w.unfinis == nil || w.recent == nil || w.state == nil {
		return nil, fmt.Errorf("store buckets missing (file not migrated)")
	}
	var err error
	if w.stlog, err = openStateLog(tx); err != nil {
		return nil, err
	}
	// Keys arrive mostly in ascending order (time-sortable IDs), at the end
	// of the bucket or of one ID's range in an index, so full pages are
	// rarely split again; bbolt's default of half-full pages would double
	// the pages written per commit. Schedules and their firing states are
	// mostly rewritten in place, at the same size (a state always is):
	// half-full pages would only double the file pages a scheduler maps,
	// 8 MB instead of 4 for 10,000 schedules.
	for _, b := range []*bolt.Bucket{w.exec, w.bySched, w.byHandler, w.unfinis, w.recent, w.sched, w.state} {
		b.FillPercent = fillPercent
	}
	w.exec.FillPercent = execFillPercent
	return w, nil
}

func (w *txWriter) counters() (*counters, error) {
	if w.c == nil {
		c, err := readCounters(w.meta)
		if err != nil {
			return nil, err
		}
		w.c = c
	}
	return w.c, nil
}

// execMeta is the part of an execution that indexes and counters depend
// on. The unfinished index stores it (see encodeMeta), so replacing a
// running attempt with its final record needs no JSON decoding.
type execMeta struct {
	Status     Status  `json:"status"`
	ScheduleID string  `json:"job_id"`
	HandlerID  string  `json:"handler_id"`
	DurationMS float64 `json:"duration_ms"`
}

func metaOf(e *Execution) execMeta {
	return execMeta{Status: e.Status, ScheduleID: e.ScheduleID, HandlerID: e.HandlerID, DurationMS: e.DurationMS}
}

// encodeMeta renders m as three uint16-length-prefixed strings (status,
// schedule, handler) and the big-endian float64 bits of the duration.
func encodeMeta(m execMeta) []byte {
	return appendMeta(make([]byte, 0, 6+len(m.Status)+len(m.ScheduleID)+len(m.HandlerID)+8), m)
}

func appendMeta(b []byte, m execMeta) []byte {
	for _, s := range [...]string{string(m.Status), m.ScheduleID, m.HandlerID} {
		b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
		b = append(b, s...)
	}
	return binary.BigEndian.AppendUint64(b, math.Float64bits(m.DurationMS))
}

// unfinishedValue returns the idx_unfinished value of m, valid until the transaction
// ends.
func (w *txWriter) unfinishedValue(m execMeta) []byte {
	w.key = appendMeta(w.key[:0], m)
	return w.value(w.key)
}

func decodeMeta(b []byte) (execMeta, bool) { return decodeMetaLike(b, &execMeta{}) }

// decodeMetaLike is decodeMeta without copies where b's fields equal
// like's: they take like's strings (and a status, its constant).
func decodeMetaLike(b []byte, like *execMeta) (execMeta, bool) {
	var f [3][]byte
	for i := range f {
		if len(b) < 2 {
			return execMeta{}, false
		}
		n := int(binary.BigEndian.Uint16(b))
		if len(b) < 2+n {
			return execMeta{}, false
		}
		f[i], b = b[2:2+n], b[2+n:]
	}
	if len(b) != 8 {
		return execMeta{}, false
	}
	m := execMeta{Status: statusOf(f[0]), ScheduleID: like.ScheduleID, HandlerID: like.HandlerID,
		DurationMS: math.Float64frombits(binary.BigEndian.Uint64(b))}
	if string(f[1]) != like.ScheduleID {
		m.ScheduleID = string(f[1])
	}
	if string(f[2]) != like.HandlerID {
		m.HandlerID = string(f[2])
	}
	return m, true
}

// statusOf returns the status named b, the constant for those
// idx_unfinished holds.
func statusOf(b []byte) Status {
	switch string(b) {
	case string(StatusRunning):
		return StatusRunning
	case string(StatusPending):
		return StatusPending
	}
	return Status(b)
}

// stored returns the meta of the record at k, if there is one. like is
// the record about to replace it: fields of the stored meta equal to its
// take its strings, so the common replacement (running by its final
// record) allocates none.
//
// A key above every stored one is a new attempt (execution IDs grow with
// time) and costs no lookup: a running attempt's first record used to
// look in idx_unfinished and then in executions for nothing, two of the
// eleven B+tree descents of an execution. Every entry of idx_unfinished
// has its record in executions, so a key absent from executions is absent
// from both.
func (w *txWriter) stored(k []byte, like *execMeta) (execMeta, bool, error) {
	if w.above(k) {
		return execMeta{}, false, nil
	}
	if u := w.unfinis.Get(k); u != nil {
		if m, ok := decodeMetaLike(u, like); ok {
			return m, true, nil
		}
	}
	v := w.exec.Get(k)
	if v == nil {
		return execMeta{}, false, nil
	}
	m, err := decodeMetaOf(v)
	if err != nil {
		return execMeta{}, false, fmt.Errorf("execution %x: stored record: %w", k, err)
	}
	return m, true, nil
}

// above reports whether k is greater than every key in executions. The
// greatest key is read once a transaction and then kept as an upper
// bound: puts raise it, and deletes only make it looser.
func (w *txWriter) above(k []byte) bool {
	if !w.lastRead {
		last, _ := w.exec.Cursor().Last()
		w.last, w.lastRead = append(w.last[:0], last...), true
	}
	return bytes.Compare(k, w.last) > 0
}

// putExecution stores e, already encoded as v, under key k, replacing any
// earlier record of the same attempt. Index entries that stay the same are
// not rewritten.
func (w *txWriter) putExecution(k []byte, e *Execution, v []byte) error {
	m := metaOf(e)
	old, exists, err := w.stored(k, &m)
	if err != nil {
		return err
	}
	if err := w.exec.Put(k, v); err != nil {
		return fmt.Errorf("execution %q attempt %d: %w", e.ID, e.Attempt, err)
	}
	if w.lastRead && bytes.Compare(k, w.last) > 0 {
		w.last = append(w.last[:0], k...)
	}
	if !exists {
		return w.index(k, m)
	}
	c, err := w.counters()
	if err != nil {
		return err
	}
	if old.ScheduleID != m.ScheduleID {
		if err := w.unindexSchedule(k, old.ScheduleID); err != nil {
			return err
		}
		if err := w.indexSchedule(k, m.ScheduleID); err != nil {
			return err
		}
	}
	if old.HandlerID != m.HandlerID {
		if err := w.move(w.byHandler, old.HandlerID, m.HandlerID, k); err != nil {
			return err
		}
	}
	if !m.Status.Finished() {
		err = w.unfinis.Put(k, w.unfinishedValue(m))
	} else if !old.Status.Finished() {
		err = w.unfinis.Delete(k)
	}
	if err != nil {
		return err
	}
	c.add(old, -1)
	c.add(m, 1)
	w.dirty = true
	return nil
}

// move re-files the index entry of k from id from to id to.
func (w *txWriter) move(b *bolt.Bucket, from, to string, k []byte) error {
	if from != "" {
		if err := b.Delete(w.indexKey(from, k)); err != nil {
			return err
		}
	}
	if to != "" {
		return b.Put(w.indexKey(to, k), nil)
	}
	return nil
}

// indexSchedule files the execution at k under schedule id. It goes to
// idx_schedule_recent, keyed by k: new execution keys are time-ordered, so
// this appends to the last page, where an idx_schedule entry would land on
// a different page for every schedule. mergeRecent moves the entries to
// idx_schedule in bulk.
func (w *txWriter) indexSchedule(k []byte, id string) error {
	if id == "" {
		return nil
	}
	w.recentAdded++
	w.key = append(w.key[:0], id...)
	return w.recent.Put(k, w.value(w.key))
}

// unindexSchedule removes k's entry under schedule id, wherever it is:
// in either bucket, or in both while a merge has not finished.
func (w *txWriter) unindexSchedule(k []byte, id string) error {
	if id == "" {
		return nil
	}
	if v := w.recent.Get(k); v != nil && string(v) == id {
		if err := w.recent.Delete(k); err != nil {
			return err
		}
	}
	return w.move(w.bySched, id, "", k)
}

// deleteExecution removes the record at k whose value is v.
func (w *txWriter) deleteExecution(k, v []byte) error {
	m, err := decodeMetaOf(v)
	if err != nil {
		return fmt.Errorf("execution %x: %w", k, err)
	}
	if err := w.unindex(k, m); err != nil {
		return err
	}
	return w.exec.Delete(k)
}

// index adds the index entries and counts of m stored at k.
func (w *txWriter) index(k []byte, m execMeta) error {
	c, err := w.counters()
	if err != nil {
		return err
	}
	if err := w.indexSchedule(k, m.ScheduleID); err != nil {
		return err
	}
	if err := w.move(w.byHandler, "", m.HandlerID, k); err != nil {
		return err
	}
	if !m.Status.Finished() {
		if err := w.unfinis.Put(k, w.unfinishedValue(m)); err != nil {
			return err
		}
	}
	c.add(m, 1)
	w.dirty = true
	return nil
}

// unindex reverses index for the record m at k.
func (w *txWriter) unindex(k []byte, m execMeta) error {
	c, err := w.counters()
	if err != nil {
		return err
	}
	if err := w.unindexSchedule(k, m.ScheduleID); err != nil {
		return err
	}
	if err := w.move(w.byHandler, m.HandlerID, "", k); err != nil {
		return err
	}
	if !m.Status.Finished() {
		if err := w.unfinis.Delete(k); err != nil {
			return err
		}
	}
	c.add(m, -1)
	w.dirty = true
	return nil
}

// flush writes the counters when they changed.
func (w *txWriter) flush() error {
	if !w.dirty {
		return nil
	}
	v, err := json.Marshal(w.c)
	if err != nil {
		return err
	}
	return w.meta.Put(keyCounters, v)
}
