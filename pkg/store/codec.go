package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"time"
	"unicode/utf8"
)

// The store encodes the records it writes with the appenders below rather
// than json.Marshal: every fire writes a schedule and every attempt two
// execution records, and reflection plus the re-compaction of each
// json.RawMessage was a tenth of the scheduler's CPU under load. The output
// is JSON that json.Unmarshal reads back into the same record (the
// differential test in encode_test.go holds it to that); it differs from
// json.Marshal's only in not escaping <, > and & for HTML, and in keeping
// raw messages as given instead of compacting them.

// appendExecution appends e as JSON.
func appendExecution(b []byte, e *Execution) ([]byte, error) {
	b = append(b, `{"execution_id":`...)
	b = appendString(b, e.ID)
	b = append(b, `,"attempt_number":`...)
	b = strconv.AppendInt(b, int64(e.Attempt), 10)
	b = append(b, `,"max_attempts":`...)
	b = strconv.AppendInt(b, int64(e.MaxAttempts), 10)
	b = append(b, `,"job_id":`...)
	b = appendString(b, e.ScheduleID)
	b = append(b, `,"handler_id":`...)
	b = appendString(b, e.HandlerID)
	b = append(b, `,"method_name":`...)
	b = appendString(b, e.Method)
	b = append(b, `,"status":`...)
	b = appendString(b, string(e.Status))
	var err error
	if b, err = appendTimeField(b, "scheduled_at", e.ScheduledAt); err != nil {
		return nil, err
	}
	if b, err = appendTimeField(b, "started_at", e.StartedAt); err != nil {
		return nil, err
	}
	if b, err = appendTimeField(b, "completed_at", e.CompletedAt); err != nil {
		return nil, err
	}
	b = append(b, `,"duration_ms":`...)
	if b, err = appendFloat(b, e.DurationMS); err != nil {
		return nil, fmt.Errorf("duration_ms: %w", err)
	}
	if len(e.Result) > 0 {
		b = append(b, `,"result":`...)
		if b, err = appendRaw(b, e.Result); err != nil {
			return nil, fmt.Errorf("result: %w", err)
		}
	}
	if e.Error != "" {
		b = append(b, `,"error":`...)
		b = appendString(b, e.Error)
	}
	if e.ParamsSummary != "" {
		b = append(b, `,"params_summary":`...)
		b = appendString(b, e.ParamsSummary)
	}
	return append(b, '}'), nil
}

// appendSchedule appends s as JSON.
func appendSchedule(b []byte, s *Schedule) ([]byte, error) {
	b = append(b, `{"id":`...)
	b = appendString(b, s.ID)
	b = append(b, `,"handler_id":`...)
	b = appendString(b, s.HandlerID)
	b = append(b, `,"job_method":`...)
	b = appendString(b, s.Method)
	var err error
	if len(s.Params) > 0 {
		b = append(b, `,"job_params":`...)
		if b, err = appendRaw(b, s.Params); err != nil {
			return nil, fmt.Errorf("job_params: %w", err)
		}
	}
	b = append(b, `,"trigger":`...)
	if len(s.Trigger) == 0 {
		b = append(b, "null"...)
	} else if b, err = appendRaw(b, s.Trigger); err != nil {
		return nil, fmt.Errorf("trigger: %w", err)
	}
	if s.Timezone != "" {
		b = append(b, `,"timezone":`...)
		b = appendString(b, s.Timezone)
	}
	if s.Paused {
		b = append(b, `,"paused":true`...)
	}
	if b, err = appendTimeField(b, "paused_at", s.PausedAt); err != nil {
		return nil, err
	}
	if s.MaxAttempts != 0 {
		b = append(b, `,"max_attempts":`...)
		b = strconv.AppendInt(b, int64(s.MaxAttempts), 10)
	}
	if s.Timeout != 0 {
		b = append(b, `,"timeout":`...)
		b = strconv.AppendInt(b, int64(s.Timeout), 10)
	}
	if !reflect.ValueOf(s.Policy).IsZero() { // omitzero
		p, err := json.Marshal(s.Policy) // rare, and small
		if err != nil {
			return nil, fmt.Errorf("policy: %w", err)
		}
		b = append(b, `,"policy":`...)
		b = append(b, p...)
	}
	if b, err = appendTimeField(b, "next_fire_time", s.NextFire); err != nil {
		return nil, err
	}
	if b, err = appendTimeField(b, "last_fire_time", s.LastFire); err != nil {
		return nil, err
	}
	if s.FireCount != 0 {
		b = append(b, `,"fire_count":`...)
		b = strconv.AppendInt(b, s.FireCount, 10)
	}
	if s.MissedCount != 0 {
		b = append(b, `,"missed_count":`...)
		b = strconv.AppendInt(b, s.MissedCount, 10)
	}
	if s.Done {
		b = append(b, `,"done":true`...)
	}
	b = append(b, `,"created_at":`...)
	if b, err = appendTime(b, s.CreatedAt); err != nil {
		return nil, fmt.Errorf("created_at: %w", err)
	}
	b = append(b, `,"updated_at":`...)
	if b, err = appendTime(b, s.UpdatedAt); err != nil {
		return nil, fmt.Errorf("updated_at: %w", err)
	}
	return append(b, '}'), nil
}

// appendTimeField appends ,"name":t unless t is zero (omitzero).
func appendTimeField(b []byte, name string, t time.Time) ([]byte, error) {
	if t.IsZero() {
		return b, nil
	}
	b = append(append(append(b, `,"`...), name...), `":`...)
	out, err := appendTime(b, t)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return out, nil
}

var errYearRange = errors.New("year outside of range [0,9999]")

// appendTime is time.Time.MarshalJSON without its allocation.
func appendTime(b []byte, t time.Time) ([]byte, error) {
	if y := t.Year(); y < 0 || y > 9999 {
		return nil, errYearRange
	}
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"'), nil
}

// appendFloat formats f as encoding/json does.
func appendFloat(b []byte, f float64) ([]byte, error) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return nil, fmt.Errorf("unsupported value %v", f)
	}
	format := byte('f')
	if a := math.Abs(f); a != 0 && (a < 1e-6 || a >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' { // e-09 → e-9, as encoding/json writes it
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, nil
}

// appendRaw appends a raw JSON value after checking that it is one.
func appendRaw(b []byte, raw json.RawMessage) ([]byte, error) {
	if !json.Valid(raw) {
		return nil, errors.New("invalid JSON")
	}
	return append(b, raw...), nil
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string: quotes, backslashes and control
// characters escaped, invalid UTF-8 replaced by U+FFFD as encoding/json
// does, U+2028 and U+2029 escaped for JavaScript readers.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
