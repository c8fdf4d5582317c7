package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"
	"unsafe"
)

// Execution records are most of what the file holds: one or two per fire,
// kept until retention drops them; schedule records are read whole when
// the scheduler starts, and mapped while it runs. Since schema version 4
// both are written in the compact form below instead of JSON: a record of
// a successful dingaling job takes 170 bytes instead of 404, an interval
// schedule 158 instead of 380 (TestCodec_Size), so the same history
// takes less than half the disk and the page cache, and the scheduler,
// which maps the file, touches fewer pages. Records written as JSON by
// earlier versions stay readable: a JSON value starts with '{', a compact
// one with formatCompact. Handlers, counters and the meta bucket stay JSON:
// they are few and small.
//
// An execution, after the format byte: attempt and max attempts (zigzag
// varints); ID, schedule ID, handler ID, method and status
// (uvarint-length-prefixed); scheduled, started and completed times
// (appendInstant); the duration's float64 bits (8 bytes, big-endian); the
// result, error and params summary (uvarint-length-prefixed); then, when
// present, the note, and after it the instance and host that ran the
// attempt (schema version 6; uvarint-length-prefixed, the note empty when
// only they are present).
//
// A schedule, after the format byte: ID, handler ID, method, time zone,
// params and trigger (uvarint-length-prefixed; params and trigger are
// JSON); a flags byte (paused, done); paused at, next fire, last fire,
// created and updated times (appendInstant); max attempts, timeout, fire
// count and missed count (zigzag varints); the policy as JSON, empty when
// it is the zero policy. A schedule with a source (schema version 5) is
// written with formatSourced, and its source follows the policy
// (uvarint-length-prefixed); one without keeps formatCompact, so that its
// bytes stay those of version 4.
const (
	formatCompact = 0x01
	formatSourced = 0x02
)

var (
	errCorrupt   = errors.New("corrupt record")
	errYearRange = errors.New("year outside of range [0,9999]")
)

// Schedule flags in the compact form.
const (
	schedPaused = 1 << 0
	schedDone   = 1 << 1
)

// appendSchedule appends s in the compact form. Params and trigger must be
// JSON, the times' years within 0..9999, as the API renders them.
func appendSchedule(b []byte, s *Schedule) ([]byte, error) {
	if len(s.Params) > 0 && !json.Valid(s.Params) {
		return nil, errors.New("job_params: invalid JSON")
	}
	if len(s.Trigger) > 0 && !json.Valid(s.Trigger) {
		return nil, errors.New("trigger: invalid JSON")
	}
	var policy []byte
	if !s.Policy.IsZero() {
		var err error
		if policy, err = json.Marshal(s.Policy); err != nil { // rare, and small
			return nil, fmt.Errorf("policy: %w", err)
		}
	}
	format := byte(formatCompact)
	if s.Source != "" {
		format = formatSourced
	}
	b = append(b, format)
	for _, v := range [...]string{s.ID, s.HandlerID, s.Method, s.Timezone} {
		b = appendBytes(b, v)
	}
	b = appendBytes(b, s.Params)
	b = appendBytes(b, s.Trigger)
	var flags byte
	if s.Paused {
		flags |= schedPaused
	}
	if s.Done {
		flags |= schedDone
	}
	b = append(b, flags)
	var err error
	for _, f := range [...]struct {
		name string
		t    time.Time
	}{{"paused_at", s.PausedAt}, {"next_fire_time", s.NextFire}, {"last_fire_time", s.LastFire},
		{"created_at", s.CreatedAt}, {"updated_at", s.UpdatedAt}} {
		if b, err = appendInstant(b, f.t); err != nil {
			return nil, fmt.Errorf("%s: %w", f.name, err)
		}
	}
	for _, n := range [...]int64{int64(s.MaxAttempts), int64(s.Timeout), s.FireCount, s.MissedCount} {
		b = binary.AppendVarint(b, n)
	}
	b = appendBytes(b, policy)
	if format == formatSourced {
		b = appendBytes(b, s.Source)
	}
	return b, nil
}

// decodeSchedule reads a record in either form into s.
func decodeSchedule(v []byte, s *Schedule) error { return decodeScheduleAs(v, s, false) }

// decodeScheduleAs is decodeSchedule; alias makes s's strings and raw
// messages views of v (of the compact form; JSON is copied).
func decodeScheduleAs(v []byte, s *Schedule, alias bool) error {
	if len(v) == 0 || (v[0] != formatCompact && v[0] != formatSourced) {
		return json.Unmarshal(v, s)
	}
	sourced := v[0] == formatSourced
	d := decoder{b: v[1:], alias: alias}
	*s = Schedule{
		ID:        d.string(),
		HandlerID: d.string(),
		Method:    d.string(),
		Timezone:  d.string(),
	}
	if p := d.bytes(); len(p) > 0 {
		s.Params = json.RawMessage(p)
	}
	if t := d.bytes(); len(t) > 0 {
		s.Trigger = json.RawMessage(t)
	}
	flags := d.byte()
	s.Paused, s.Done = flags&schedPaused != 0, flags&schedDone != 0
	s.PausedAt = d.instant()
	s.NextFire = d.instant()
	s.LastFire = d.instant()
	s.CreatedAt = d.instant()
	s.UpdatedAt = d.instant()
	s.MaxAttempts = int(d.varint())
	s.Timeout = time.Duration(d.varint())
	s.FireCount = d.varint()
	s.MissedCount = d.varint()
	if p := d.bytes(); len(p) > 0 && d.err == nil {
		if err := json.Unmarshal(p, &s.Policy); err != nil {
			return fmt.Errorf("policy: %w", err)
		}
	}
	if sourced {
		s.Source = d.string()
	}
	if d.err == nil && len(d.b) != 0 {
		d.err = errCorrupt
	}
	return d.err
}

// appendExecution appends e in the compact form. It refuses what the API
// could not render as JSON (a result that is not JSON, a year outside
// 0..9999, a duration that is not a number), so that every stored record
// can be read back out.
func appendExecution(b []byte, e *Execution) ([]byte, error) {
	if len(e.Result) > 0 && !json.Valid(e.Result) {
		return nil, errors.New("result: invalid JSON")
	}
	if math.IsInf(e.DurationMS, 0) || math.IsNaN(e.DurationMS) {
		return nil, fmt.Errorf("duration_ms: unsupported value %v", e.DurationMS)
	}
	b = append(b, formatCompact)
	b = binary.AppendVarint(b, int64(e.Attempt))
	b = binary.AppendVarint(b, int64(e.MaxAttempts))
	for _, s := range [...]string{e.ID, e.ScheduleID, e.HandlerID, e.Method, string(e.Status)} {
		b = appendBytes(b, s)
	}
	var err error
	for _, f := range [...]struct {
		name string
		t    time.Time
	}{{"scheduled_at", e.ScheduledAt}, {"started_at", e.StartedAt}, {"completed_at", e.CompletedAt}} {
		if b, err = appendInstant(b, f.t); err != nil {
			return nil, fmt.Errorf("%s: %w", f.name, err)
		}
	}
	b = binary.BigEndian.AppendUint64(b, math.Float64bits(e.DurationMS))
	b = appendBytes(b, e.Result)
	b = appendBytes(b, e.Error)
	b = appendBytes(b, e.ParamsSummary)
	// Optional and last: a record without them reads as before. Instance
	// and host (schema version 6) follow the note, empty when there is none.
	placed := e.Instance != "" || e.Host != ""
	if e.Note != "" || placed {
		b = appendBytes(b, e.Note)
	}
	if placed {
		b = appendBytes(b, e.Instance)
		b = appendBytes(b, e.Host)
	}
	return b, nil
}

func appendBytes[S ~string | ~[]byte](b []byte, s S) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// Instant kinds in the compact form.
const (
	instantZero   = 0 // the zero time.Time, nothing follows
	instantUTC    = 1 // seconds, nanoseconds
	instantOffset = 2 // seconds, nanoseconds, zone offset in seconds
)

// appendInstant appends t as its kind, Unix seconds (zigzag varint) and
// nanoseconds (uvarint), and the zone offset unless it is zero: what the
// RFC 3339 form kept, so a time reads back as it did from JSON.
func appendInstant(b []byte, t time.Time) ([]byte, error) {
	if t.IsZero() {
		return append(b, instantZero), nil
	}
	if y := t.Year(); y < 0 || y > 9999 {
		return nil, errYearRange
	}
	_, off := t.Zone()
	kind := byte(instantOffset)
	if off == 0 {
		kind = instantUTC
	}
	b = append(b, kind)
	b = binary.AppendVarint(b, t.Unix())
	b = binary.AppendUvarint(b, uint64(t.Nanosecond()))
	if kind == instantOffset {
		b = binary.AppendVarint(b, int64(off))
	}
	return b, nil
}

// decodeExecution reads a record in either form into e.
func decodeExecution(v []byte, e *Execution) error {
	if len(v) == 0 || v[0] != formatCompact {
		return json.Unmarshal(v, e)
	}
	d := decoder{b: v[1:]}
	*e = Execution{
		Attempt:     int(d.varint()),
		MaxAttempts: int(d.varint()),
		ID:          d.string(),
		ScheduleID:  d.string(),
		HandlerID:   d.string(),
		Method:      d.string(),
		Status:      Status(d.string()),
		ScheduledAt: d.instant(),
		StartedAt:   d.instant(),
		CompletedAt: d.instant(),
		DurationMS:  math.Float64frombits(d.uint64()),
	}
	if r := d.bytes(); len(r) > 0 {
		e.Result = json.RawMessage(r)
	}
	e.Error = d.string()
	e.ParamsSummary = d.string()
	if d.err == nil && len(d.b) != 0 {
		e.Note = d.string()
	}
	if d.err == nil && len(d.b) != 0 {
		e.Instance = d.string()
		e.Host = d.string()
	}
	if d.err == nil && len(d.b) != 0 {
		d.err = errCorrupt
	}
	return d.err
}

// decodeMetaOf reads the part of a record that indexes and counters need.
func decodeMetaOf(v []byte) (execMeta, error) {
	if len(v) == 0 || v[0] != formatCompact {
		var m execMeta
		err := json.Unmarshal(v, &m)
		return m, err
	}
	var e Execution
	if err := decodeExecution(v, &e); err != nil {
		return execMeta{}, err
	}
	return metaOf(&e), nil
}

// decoder reads the compact form; the first error sticks and every later
// read returns a zero value, so a caller checks err once at the end.
type decoder struct {
	b   []byte
	err error
	// alias makes strings and bytes views of b, not copies (see
	// DB.EachScheduleView).
	alias bool
}

func (d *decoder) fail() { d.err, d.b = errCorrupt, nil }

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) byte() byte {
	if len(d.b) == 0 {
		d.fail()
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uint64() uint64 {
	if len(d.b) < 8 {
		d.fail()
		return 0
	}
	v := binary.BigEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

// bytes returns a copy: the input is bbolt's mapped page, valid only
// within its transaction.
func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail()
		return nil
	}
	out := d.b[:n:n]
	if !d.alias {
		out = append([]byte(nil), out...)
	}
	d.b = d.b[n:]
	return out
}

func (d *decoder) string() string {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail()
		return ""
	}
	var s string
	switch {
	case n == 0:
	case d.alias:
		s = unsafe.String(&d.b[0], n)
	default:
		s = string(d.b[:n])
	}
	d.b = d.b[n:]
	return s
}

func (d *decoder) instant() time.Time {
	kind := d.byte()
	if d.err != nil || kind == instantZero {
		return time.Time{}
	}
	sec, nsec := d.varint(), d.uvarint()
	if nsec >= 1e9 {
		d.fail()
	}
	switch kind {
	case instantUTC:
		return time.Unix(sec, int64(nsec)).UTC()
	case instantOffset:
		off := d.varint()
		if off <= -86400 || off >= 86400 || off == 0 {
			d.fail()
			return time.Time{}
		}
		return inZone(time.Unix(sec, int64(nsec)), int(off))
	}
	d.fail()
	return time.Time{}
}

// inZone places t in the local zone when that has offset off at t, and in
// a fixed zone otherwise: what time.Parse does with an RFC 3339 offset, so
// a compact record reads back as its JSON form did.
func inZone(t time.Time, off int) time.Time {
	local := t.In(time.Local)
	if _, o := local.Zone(); o == off {
		return local
	}
	return t.In(time.FixedZone("", off))
}
