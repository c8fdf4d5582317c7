package store

import (
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// A schedule's firing state (next and last fire, counts, done, paused_at)
// changes on every fire; the rest of it only when someone edits it. The
// engine writes the firing state alone, as Writes.ScheduleStates: 42
// bytes instead of the whole record, appended to schedule_state_log
// (statelog.go) and merged into schedule_state in bulk, so a group commit
// of fires appends a few pages rather than rewriting a page of schedules
// per fire, and encodes a few integers instead of the record. A state
// entry overrides those fields of the record; writing the whole record
// removes it and supersedes the log's.
//
// Layout: a version byte (1), a flags byte (done, and which of the three
// times are set), then the big-endian Unix nanoseconds of next fire, last
// fire and paused_at, the fire count and the missed count.

const (
	stateVersion  = 1
	stateLen      = 2 + 5*8
	stateDone     = 1 << 0
	stateNext     = 1 << 1
	stateLast     = 1 << 2
	statePausedAt = 1 << 3
)

func encodeState(s *Schedule) []byte { return appendState(make([]byte, 0, stateLen), s) }

// appendState appends the state entry of s to b.
func appendState(b []byte, s *Schedule) []byte {
	lo := len(b)
	b = append(b, stateVersion, 0)
	var flags byte
	if s.Done {
		flags |= stateDone
	}
	times := [3]time.Time{s.NextFire, s.LastFire, s.PausedAt}
	for i, t := range times {
		var n int64
		if !t.IsZero() {
			flags |= stateNext << i
			n = t.UnixNano()
		}
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	b[lo+1] = flags
	b = binary.BigEndian.AppendUint64(b, uint64(s.FireCount))
	return binary.BigEndian.AppendUint64(b, uint64(s.MissedCount))
}

// overlayState sets s's firing state from the entry v.
func overlayState(s *Schedule, v []byte) error {
	if len(v) != stateLen || v[0] != stateVersion {
		return fmt.Errorf("schedule %q: state entry of %d bytes, version %d", s.ID, len(v), v[0])
	}
	flags := v[1]
	s.Done = flags&stateDone != 0
	times := [3]*time.Time{&s.NextFire, &s.LastFire, &s.PausedAt}
	for i, t := range times {
		*t = time.Time{}
		if flags&(stateNext<<i) != 0 {
			*t = time.Unix(0, int64(binary.BigEndian.Uint64(v[2+8*i:]))).UTC()
		}
	}
	s.FireCount = int64(binary.BigEndian.Uint64(v[2+24:]))
	s.MissedCount = int64(binary.BigEndian.Uint64(v[2+32:]))
	return nil
}

// putSchedule stores v, the whole record of schedule id. Its state entry
// goes, and any in the log is superseded: the record has that state in
// it.
func putSchedule(sched, state *bolt.Bucket, log *stateLog, id string, v []byte) error {
	if err := sched.Put([]byte(id), v); err != nil {
		return fmt.Errorf("schedule %q: %w", id, err)
	}
	return dropState(state, log, id)
}

// deleteSchedule removes schedule id and its state (a missing ID is not
// an error); a schedule created again with the same ID starts from its
// own record.
func deleteSchedule(sched, state *bolt.Bucket, log *stateLog, id string) error {
	if err := sched.Delete([]byte(id)); err != nil {
		return fmt.Errorf("schedule %q: %w", id, err)
	}
	return dropState(state, log, id)
}

func dropState(state *bolt.Bucket, log *stateLog, id string) error {
	if err := state.Delete([]byte(id)); err != nil {
		return fmt.Errorf("schedule %q: %w", id, err)
	}
	return log.supersede(id)
}

// getSchedule reads schedule id with its state, or fails with ErrNotFound.
func getSchedule(tx *bolt.Tx, id string) (Schedule, error) {
	v := tx.Bucket(bucketSchedules).Get([]byte(id))
	if v == nil {
		return Schedule{}, fmt.Errorf("schedule %q: %w", id, ErrNotFound)
	}
	var s Schedule
	if err := decodeSchedule(v, &s); err != nil {
		return Schedule{}, fmt.Errorf("schedule %q: %w", id, err)
	}
	logged, found, err := latestLogged(tx, []byte(id))
	if err != nil {
		return Schedule{}, err
	}
	if err := overlayLatest(&s, logged, found, tx.Bucket(bucketScheduleState).Get([]byte(id))); err != nil {
		return Schedule{}, err
	}
	return s, nil
}
