package scheduler

import (
	"encoding/json"
	"strings"
	"time"
	"unique"

	"github.com/schedulezero/schedulezero/pkg/store"
)

// scheduleJob is what thousands of schedules share: a few handlers,
// methods, time zones, attempts and timeouts, interned as one handle (8
// bytes instead of 60).
type scheduleJob struct {
	handler, method, timezone string
	maxAttempts               int
	timeout                   time.Duration
}

// The instants of a schedule, indexes of schedule.at and schedule.nsec.
const (
	atNextFire = iota
	atLastFire
	atCreated
	atUpdated
	numInstants
)

// An instant is packed as its Unix seconds shifted left by offsetBits,
// above its zone offset (seconds east of UTC, biased to be positive), and
// its nanoseconds apart; 0 is the zero time.Time. The zone offset is what
// the store keeps of a time's location too (store's compact form), so an
// instant reads back as it does from the store after a restart.
const (
	offsetBits = 18
	offsetBias = 86401 // offsets are within a day either way
	offsetMask = 1<<offsetBits - 1
)

func packInstant(t time.Time) (int64, uint32) {
	if t.IsZero() {
		return 0, 0
	}
	_, off := t.Zone()
	if off <= -86400 || off >= 86400 {
		off = 0 // no real zone is this far; the instant is kept, in UTC
	}
	return t.Unix()<<offsetBits | int64(off+offsetBias), uint32(t.Nanosecond())
}

func unpackInstant(v int64, nsec uint32) time.Time {
	if v == 0 {
		return time.Time{}
	}
	t := time.Unix(v>>offsetBits, int64(nsec))
	off := int(v&offsetMask) - offsetBias
	if off == 0 {
		return t.UTC()
	}
	// The local zone when it has that offset then, a fixed zone
	// otherwise: what the store's decoding gives.
	if local := t.In(time.Local); func() bool { _, o := local.Zone(); return o == off }() {
		return local
	}
	return t.In(time.FixedZone("", off))
}

func packSchedule(rec store.Schedule) schedule {
	// One copy, never a view: the loader's records are views of the
	// store's pages (store.DB.EachScheduleView), and unique.Make clones
	// the strings it keeps.
	var text strings.Builder
	text.Grow(len(rec.ID) + len(rec.Trigger) + len(rec.Params))
	text.WriteString(rec.ID)
	text.Write(rec.Trigger)
	text.Write(rec.Params)
	s := schedule{
		text:    text.String(),
		idLen:   uint16(len(rec.ID)),
		trigLen: uint32(len(rec.Trigger)),
		job:     unique.Make(scheduleJob{rec.HandlerID, rec.Method, rec.Timezone, rec.MaxAttempts, rec.Timeout}),

		FireCount: rec.FireCount, MissedCount: rec.MissedCount,
		Paused: rec.Paused, Done: rec.Done,
	}
	for i, t := range [numInstants]time.Time{rec.NextFire, rec.LastFire, rec.CreatedAt, rec.UpdatedAt} {
		s.at[i], s.nsec[i] = packInstant(t)
	}
	return s
}

func (s *schedule) unpack() store.Schedule {
	j := s.job.Value()
	return store.Schedule{
		ID: s.ID(), HandlerID: j.handler, Method: j.method, Timezone: j.timezone,
		Params: s.Params(), Trigger: s.Trigger(),
		NextFire: s.NextFire(), LastFire: s.LastFire(),
		CreatedAt: s.CreatedAt(), UpdatedAt: s.instant(atUpdated),
		MaxAttempts: j.maxAttempts, Timeout: j.timeout,
		FireCount: s.FireCount, MissedCount: s.MissedCount,
		Paused: s.Paused, Done: s.Done,
	}
}

func (s *schedule) ID() string             { return s.text[:s.idLen] }
func (s *schedule) HandlerID() string      { return s.job.Value().handler }
func (s *schedule) Method() string         { return s.job.Value().method }
func (s *schedule) Timezone() string       { return s.job.Value().timezone }
func (s *schedule) MaxAttempts() int       { return s.job.Value().maxAttempts }
func (s *schedule) Timeout() time.Duration { return s.job.Value().timeout }

// Trigger and Params are copies: the text they come from is shared.
func (s *schedule) Trigger() json.RawMessage {
	return rawCopy(s.text[s.idLen : uint32(s.idLen)+s.trigLen])
}

func (s *schedule) Params() json.RawMessage { return rawCopy(s.text[uint32(s.idLen)+s.trigLen:]) }

func rawCopy(s string) json.RawMessage {
	if s == "" {
		return nil
	}
	return json.RawMessage(s)
}

func (s *schedule) instant(i int) time.Time { return unpackInstant(s.at[i], s.nsec[i]) }
func (s *schedule) setInstant(i int, t time.Time) {
	s.at[i], s.nsec[i] = packInstant(t)
}

// instantKey is instant i as Unix seconds and nanoseconds.
func (s *schedule) instantKey(i int) (sec, nsec int64) {
	return s.at[i] >> offsetBits, int64(s.nsec[i])
}

func (s *schedule) NextFire() time.Time     { return s.instant(atNextFire) }
func (s *schedule) LastFire() time.Time     { return s.instant(atLastFire) }
func (s *schedule) CreatedAt() time.Time    { return s.instant(atCreated) }
func (s *schedule) hasNextFire() bool       { return s.at[atNextFire] != 0 }
func (s *schedule) SetNextFire(t time.Time) { s.setInstant(atNextFire, t) }
func (s *schedule) SetLastFire(t time.Time) { s.setInstant(atLastFire, t) }
func (s *schedule) SetUpdatedAt(t time.Time) {
	s.setInstant(atUpdated, t)
}
