package store

import (
	"bytes"
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// A fire's firing state is appended to schedule_state_log rather than put
// into schedule_state. schedule_state is ordered by schedule ID, so the
// few hundred fires of a group commit, over schedules in no relation to
// their IDs, each landed on a different page of it: a commit over 10,000
// schedules rewrote most of its pages (bbolt copies every page a
// transaction touches), 1.2 MB of the 1.3 MB it wrote. The log is keyed
// by a sequence that grows with every entry, so a commit appends to its
// last page; mergeStates moves the entries into schedule_state in bulk,
// each page written once per merge for all the states it receives.
//
// An entry is the schedule ID and its new state, or a mark that the whole
// record was written or deleted, which supersedes the older entries of
// that ID (a delete and a re-create with the same ID must not revive an
// older state). A schedule's state is its latest entry in the log, if
// it has one; else its schedule_state entry; else its record's. The log
// is written in the same transaction as the fire's running record, so a
// crash loses neither; Open merges what a crash left behind, and the
// committer merges when the log holds Options.mergeStatesAt entries and
// when it stops (Close), so a restart starts with an empty log.
//
// Key: the big-endian uint64 sequence, from 1 in an empty log. Value: a
// kind byte, then the ID, then (kind logState) the 42-byte state entry
// of state.go.

const (
	logState = 's' // ID, state: the schedule's new firing state
	logWhole = 'w' // ID: its whole record was written or deleted
)

// defaultMergeStatesAt is how many entries schedule_state_log collects
// before they are merged. A merge writes the pages of schedule_state the
// entries land on, once: over 10,000 schedules about all of them, so the
// larger the merge the fewer pages a state costs; the cost is a longer
// scan of the log by a reader of one schedule (GetSchedule: about a
// millisecond per 30,000 entries) and a larger file.
const defaultMergeStatesAt = 32 << 10

// defaultStateChunk is how many schedules one transaction of a merge
// updates: as with mergeRecent, a transaction holds a node for every page
// it touches, and a chunk of sorted IDs touches one range of the bucket.
// A pass collecting a chunk holds at most twice this many entries.
const defaultStateChunk = 8 << 10

// stateLog appends to schedule_state_log within one write transaction.
type stateLog struct {
	b     *bolt.Bucket
	seq   uint64 // the greatest key in b, once read
	read  bool
	added int    // entries appended
	vals  []byte // values, kept by bbolt until the commit (see txWriter.value)
}

func openStateLog(tx *bolt.Tx) (*stateLog, error) {
	b := tx.Bucket(bucketStateLog)
	if b == nil {
		return nil, fmt.Errorf("store buckets missing (file not migrated)")
	}
	// Entries are only ever appended, and the bucket is dropped whole by
	// a merge: full pages are never split again.
	b.FillPercent = 1
	return &stateLog{b: b}, nil
}

// last returns the greatest sequence in the log, 0 when it is empty.
func (l *stateLog) last() uint64 {
	if !l.read {
		if k, _ := l.b.Cursor().Last(); len(k) == 8 {
			l.seq = binary.BigEndian.Uint64(k)
		}
		l.read = true
	}
	return l.seq
}

// putState appends the state entry st (encodeState's) of schedule id.
func (l *stateLog) putState(id string, st []byte) error { return l.put(logState, id, st) }

// supersede records that schedule id's whole record was written or
// deleted, so that no older entry of the log applies to it. An empty log
// has none to supersede.
func (l *stateLog) supersede(id string) error {
	if l.last() == 0 {
		return nil
	}
	return l.put(logWhole, id, nil)
}

func (l *stateLog) put(kind byte, id string, st []byte) error {
	n := 1 + len(id) + len(st)
	if cap(l.vals)-len(l.vals) < n {
		l.vals = make([]byte, 0, max(valChunk, n))
	}
	lo := len(l.vals)
	l.vals = append(l.vals, kind)
	l.vals = append(l.vals, id...)
	l.vals = append(l.vals, st...)
	l.seq = l.last() + 1
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], l.seq)
	if err := l.b.Put(k[:], l.vals[lo:len(l.vals):len(l.vals)]); err != nil {
		return fmt.Errorf("schedule %q: state log: %w", id, err)
	}
	l.added++
	return nil
}

// logEntry splits a log value into the schedule ID and the state entry,
// nil for a logWhole mark.
func logEntry(v []byte) (id, st []byte, err error) {
	switch {
	case len(v) > 1+stateLen && v[0] == logState:
		return v[1 : len(v)-stateLen], v[len(v)-stateLen:], nil
	case len(v) > 1 && v[0] == logWhole:
		return v[1:], nil, nil
	}
	return nil, nil, fmt.Errorf("state log entry of %d bytes, kind %q", len(v), v[:min(len(v), 1)])
}

// latestLogged returns the latest log entry of schedule id: found false
// when it has none, st nil when the latest is a logWhole mark. It walks
// the log back from its end, at most the entries a merge leaves.
func latestLogged(tx *bolt.Tx, id []byte) (st []byte, found bool, err error) {
	c := tx.Bucket(bucketStateLog).Cursor()
	for k, v := c.Last(); k != nil; k, v = c.Prev() {
		eid, est, err := logEntry(v)
		if err != nil {
			return nil, false, fmt.Errorf("state log %x: %w", k, err)
		}
		if bytes.Equal(eid, id) {
			return est, true, nil
		}
	}
	return nil, false, nil
}

// loggedStates returns the latest log entry of every schedule in the log
// (a nil value for a logWhole mark), or nil when the log is empty. The
// values are views of the file, valid in tx only.
func loggedStates(tx *bolt.Tx) (map[string][]byte, error) {
	b := tx.Bucket(bucketStateLog)
	if k, _ := b.Cursor().First(); k == nil {
		return nil, nil
	}
	m := map[string][]byte{}
	err := b.ForEach(func(k, v []byte) error {
		id, st, err := logEntry(v)
		if err != nil {
			return fmt.Errorf("state log %x: %w", k, err)
		}
		m[string(id)] = st
		return nil
	})
	return m, err
}

// overlayLatest sets s's firing state from what applies to it: logged,
// the latest log entry when found (none when it is a logWhole mark),
// else stored, its schedule_state entry, if any.
func overlayLatest(s *Schedule, logged []byte, found bool, stored []byte) error {
	switch {
	case found && logged != nil:
		return overlayState(s, logged)
	case !found && stored != nil:
		return overlayState(s, stored)
	}
	return nil
}
