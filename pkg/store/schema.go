package store

import (
	"bytes"
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Bucket and meta key names; the tree is drawn in doc.go.
var (
	bucketMeta          = []byte("meta")
	bucketSchedules     = []byte("schedules")
	bucketHandlers      = []byte("handlers")
	bucketExecutions    = []byte("executions")
	bucketBySchedule    = []byte("idx_schedule")
	bucketByHandler     = []byte("idx_handler")
	bucketUnfinished    = []byte("idx_unfinished")
	bucketRecent        = []byte("idx_schedule_recent")
	bucketScheduleState = []byte("schedule_state")
	bucketStateLog      = []byte("schedule_state_log")
	keySchemaVersion    = []byte("schema_version")
	keyCounters         = []byte("counters")
	executionBuckets    = [][]byte{bucketExecutions, bucketBySchedule, bucketByHandler, bucketUnfinished, bucketRecent}
	allBuckets          = append([][]byte{bucketMeta, bucketSchedules, bucketScheduleState, bucketStateLog, bucketHandlers}, executionBuckets...)
)

const (
	maxIDLen          = 1024 // keeps keys far below bbolt's 32 KiB limit
	attemptKeySuffLen = 4    // the big-endian uint32 attempt after the ID
)

// migration upgrades the schema from version i to i+1, where i is its index
// in migrations. Add new ones at the end, with a test, and update doc.go.
type migration struct {
	name string
	fn   func(*bolt.Tx) error
}

var migrations = []migration{
	{"create buckets; index and count legacy executions", migrate0to1},
	{"add the recent per-schedule index", migrate1to2},
	{"add schedule_state", migrate2to3},
	{"write executions and schedules in the compact form", migrate3to4},
	{"schedules may carry a source", migrate4to5},
	{"executions may carry the instance that ran them", migrate5to6},
	{"add schedule_state_log", migrate6to7},
}

// SchemaVersion is the schema version this build writes.
func SchemaVersion() int { return len(migrations) }

func schemaVersion(tx *bolt.Tx) (int, error) {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		return 0, nil
	}
	v := meta.Get(keySchemaVersion)
	if v == nil {
		return 0, nil
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("meta %s: bad length %d", keySchemaVersion, len(v))
	}
	return int(binary.BigEndian.Uint64(v)), nil
}

// migrate brings the file to SchemaVersion in the caller's transaction, so a
// failing migration leaves the file as it was.
func migrate(tx *bolt.Tx) error {
	v, err := schemaVersion(tx)
	if err != nil {
		return err
	}
	if v > len(migrations) {
		return fmt.Errorf("file schema version %d, this build reads up to %d; upgrade schedulezero: %w",
			v, len(migrations), ErrNewerSchema)
	}
	if v == len(migrations) {
		return nil
	}
	for i := v; i < len(migrations); i++ {
		if err := migrations[i].fn(tx); err != nil {
			return fmt.Errorf("migrate schema %d to %d (%s): %w", i, i+1, migrations[i].name, err)
		}
	}
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(len(migrations)))
	return tx.Bucket(bucketMeta).Put(keySchemaVersion, b[:])
}

// migrate0to1 creates the buckets. A version-0 file may be empty (new) or a
// legacy file that has schedules, handlers and executions buckets but no
// meta, indexes or counters: those are built from the executions.
func migrate0to1(tx *bolt.Tx) error {
	for _, name := range allBuckets {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("bucket %s: %w", name, err)
		}
	}
	return rebuildIndexes(tx)
}

// migrate1to2 adds idx_schedule_recent, where new executions are indexed
// by schedule until they are merged into idx_schedule (see mergeRecent).
func migrate1to2(tx *bolt.Tx) error {
	if _, err := tx.CreateBucketIfNotExists(bucketRecent); err != nil {
		return fmt.Errorf("bucket %s: %w", bucketRecent, err)
	}
	return nil
}

// migrate2to3 adds schedule_state, the schedules' firing state written on
// its own (see state.go); without an entry the record is the state.
func migrate2to3(tx *bolt.Tx) error {
	if _, err := tx.CreateBucketIfNotExists(bucketScheduleState); err != nil {
		return fmt.Errorf("bucket %s: %w", bucketScheduleState, err)
	}
	return nil
}

// rebuildIndexes recreates the index buckets and counters from executions.
func rebuildIndexes(tx *bolt.Tx) error {
	for _, name := range executionBuckets[1:] {
		if tx.Bucket(name) != nil {
			if err := tx.DeleteBucket(name); err != nil {
				return fmt.Errorf("bucket %s: %w", name, err)
			}
		}
		if _, err := tx.CreateBucket(name); err != nil {
			return fmt.Errorf("bucket %s: %w", name, err)
		}
	}
	w, err := newTxWriter(tx)
	if err != nil {
		return err
	}
	w.c = newCounters()
	w.dirty = true
	err = w.exec.ForEach(func(k, v []byte) error {
		m, err := decodeMetaOf(v)
		if err != nil {
			return fmt.Errorf("execution %x: %w", k, err)
		}
		return w.index(k, m)
	})
	if err != nil {
		return err
	}
	return w.flush()
}

// appendExecutionKey appends an execution's key to b: the ID followed by
// the big-endian attempt, so a bucket cursor walks executions in ID (time)
// order and attempts in order.
func appendExecutionKey(b []byte, id string, attempt int) []byte {
	b = append(b, id...)
	return binary.BigEndian.AppendUint32(b, uint32(attempt))
}

// indexPrefix is the big-endian uint16 length of id followed by id; index
// keys are indexPrefix(id) + executionKey, so one id's entries are
// contiguous and in time order, and no id is a prefix of another.
func indexPrefix(id string) []byte {
	return appendIndexKey(make([]byte, 0, 2+len(id)), id, nil)
}

// appendIndexKey appends indexPrefix(id) and ek to b.
func appendIndexKey[S ~string | ~[]byte](b []byte, id S, ek []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(id)))
	b = append(b, id...)
	return append(b, ek...)
}

// prefixEnd returns the smallest key greater than every key with prefix p,
// or nil when there is none.
func prefixEnd(p []byte) []byte {
	end := bytes.Clone(p)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xFF {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// migrate3to4 changes nothing in the file: from version 4 on, execution
// and schedule records are written in the compact form (codec.go), and
// records written as JSON before stay readable. The version keeps a build that
// knows only JSON records from misreading the file (ErrNewerSchema).
func migrate3to4(*bolt.Tx) error { return nil }

// migrate4to5 changes nothing in the file either: from version 5 on, a
// schedule managed by a file is written with formatSourced (codec.go),
// which a build of version 4 would take for a corrupt record.
func migrate4to5(*bolt.Tx) error { return nil }

// migrate5to6 changes nothing in the file either: from version 6 on, an
// execution record may end with the instance and host that ran it
// (codec.go), which a build of version 5 would take for a corrupt record.
func migrate5to6(*bolt.Tx) error { return nil }

// migrate6to7 adds schedule_state_log, where fires append the firing
// states that mergeStates moves into schedule_state (statelog.go). A
// build of version 6 would not see the states in it.
func migrate6to7(tx *bolt.Tx) error {
	if _, err := tx.CreateBucketIfNotExists(bucketStateLog); err != nil {
		return fmt.Errorf("bucket %s: %w", bucketStateLog, err)
	}
	return nil
}
