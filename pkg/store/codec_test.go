package store

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// text draws strings that exercise the escaper: quotes, backslashes,
// control characters, HTML characters, U+2028, and invalid UTF-8.
func text(t *rapid.T, label string) string {
	parts := rapid.SliceOfN(rapid.SampledFrom([]string{
		"", "a", "dingaling", `"`, `\`, "\n", "\r", "\t", "\x00", "\x1f", "<", ">", "&",
		"\u2028", "\u2029", "é", "日本", "\xff", "\xe2\x82", "🙂", " ",
	}), 0, 8).Draw(t, label)
	return strings.Join(parts, "")
}

func instant(t *rapid.T, label string) time.Time {
	if rapid.Bool().Draw(t, label+"_zero") {
		return time.Time{}
	}
	sec := rapid.Int64Range(-62104060800, 253370764800).Draw(t, label+"_sec") // years 2..9998
	ns := rapid.Int64Range(0, 999999999).Draw(t, label+"_ns")
	zones := []*time.Location{time.UTC, time.FixedZone("", 5*3600+30*60), time.FixedZone("", -8*3600)}
	return time.Unix(sec, ns).In(rapid.SampledFrom(zones).Draw(t, label+"_zone"))
}

func raw(t *rapid.T, label string) json.RawMessage {
	return json.RawMessage(rapid.SampledFrom([]string{
		"", `{}`, `{"a":1}`, `{ "spaced" : [1, 2.5, "x<y"] }`, `"s"`, `null`, `[true,false]`, `12e-7`,
	}).Draw(t, label))
}

// normalize is v through JSON: what the API would show of it.
func normalize(v any) any {
	out, _ := json.Marshal(v)
	var m any
	_ = json.Unmarshal(out, &m)
	return m
}

func drawExecution(t *rapid.T) Execution {
	return Execution{
		ID: text(t, "id"), Attempt: rapid.IntRange(0, 1<<31).Draw(t, "attempt"),
		MaxAttempts: rapid.IntRange(-1, 100).Draw(t, "max"), ScheduleID: text(t, "sched"),
		HandlerID: text(t, "handler"), Method: text(t, "method"), Status: Status(text(t, "status")),
		ScheduledAt: instant(t, "scheduled"), StartedAt: instant(t, "started"), CompletedAt: instant(t, "completed"),
		DurationMS: rapid.SampledFrom([]float64{0, 1.5, 1e-7, 3e21, 123456.789, -2, 0.000001}).Draw(t, "dur"),
		Result:     raw(t, "result"), Error: text(t, "error"), ParamsSummary: text(t, "params"), Note: text(t, "note"),
		Instance: text(t, "instance"), Host: text(t, "host"),
	}
}

// The compact form reads back as the record was written, byte for byte in
// its strings, and each time as the same instant in the zone that a JSON
// round trip gives it (time.Parse's rule), so records read the same
// whichever form they were stored in.
func TestExecutionCodec_RoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		e := drawExecution(t)
		v, err := appendExecution(nil, &e)
		if err != nil {
			t.Fatal(err)
		}
		var got Execution
		if err := decodeExecution(v, &got); err != nil {
			t.Fatalf("decode: %v", err)
		}
		j, err := json.Marshal(&e)
		if err != nil {
			t.Fatal(err)
		}
		var viaJSON Execution
		if err := json.Unmarshal(j, &viaJSON); err != nil {
			t.Fatal(err)
		}
		sameTimes(t, []time.Time{got.ScheduledAt, got.StartedAt, got.CompletedAt},
			[]time.Time{viaJSON.ScheduledAt, viaJSON.StartedAt, viaJSON.CompletedAt},
			"scheduled_at", "started_at", "completed_at")
		got.ScheduledAt, got.StartedAt, got.CompletedAt = e.ScheduledAt, e.StartedAt, e.CompletedAt
		if len(e.Result) == 0 {
			e.Result = nil
		}
		if !reflect.DeepEqual(got, e) {
			t.Fatalf("read back\n%+v\nwrote\n%+v", got, e)
		}
	})
}

// A record written as JSON by a version before 4 reads as it always did.
func TestDecodeExecution_JSON(t *testing.T) {
	v := []byte(`{"execution_id":"01M8KN2BRD620DZ7N1YQDZ4XNQ","attempt_number":2,"max_attempts":3,"job_id":"j",` +
		`"handler_id":"h","method_name":"m","status":"success","scheduled_at":"2026-11-29T12:39:21.61313435Z",` +
		`"duration_ms":1.5,"result":{"ok":true}}`)
	var e Execution
	if err := decodeExecution(v, &e); err != nil {
		t.Fatal(err)
	}
	want := Execution{ID: "01M8KN2BRD620DZ7N1YQDZ4XNQ", Attempt: 2, MaxAttempts: 3, ScheduleID: "j", HandlerID: "h",
		Method: "m", Status: StatusSucceeded, ScheduledAt: time.Date(2026, 11, 29, 12, 39, 21, 613134350, time.UTC),
		DurationMS: 1.5, Result: json.RawMessage(`{"ok":true}`)}
	if !reflect.DeepEqual(e, want) {
		t.Fatalf("got\n%+v\nwant\n%+v", e, want)
	}
	m, err := decodeMetaOf(v)
	if err != nil || m != metaOf(&want) {
		t.Fatalf("meta %+v, %v; want %+v", m, err, metaOf(&want))
	}
}

// The point of the compact form: a typical record takes less than half of
// its JSON form (an execution's result and a schedule's trigger, JSON in
// both forms, are a third of it).
func TestCodec_Size(t *testing.T) {
	e, s := benchExecution(), benchSchedule()
	ev, err := appendExecution(nil, &e)
	if err != nil {
		t.Fatal(err)
	}
	sv, err := appendSchedule(nil, &s)
	if err != nil {
		t.Fatal(err)
	}
	ej, _ := json.Marshal(&e)
	sj, _ := json.Marshal(&s)
	for _, tt := range []struct {
		name            string
		compact, asJSON int
	}{{"execution", len(ev), len(ej)}, {"schedule", len(sv), len(sj)}} {
		if 2*tt.compact >= tt.asJSON {
			t.Errorf("%s: compact %d bytes, JSON %d", tt.name, tt.compact, tt.asJSON)
		}
		t.Logf("%s: compact %d bytes, JSON %d", tt.name, tt.compact, tt.asJSON)
	}
}

// fuzzDecode holds a decoder to this: whatever is in the file, it returns
// a record or an error, never a panic, and a compact record it returns
// encodes back to one that reads the same.
func fuzzDecode[T any](f *testing.F, seed T, jsonSeed string, encode func([]byte, *T) ([]byte, error), decode func([]byte, *T) error) {
	v, err := encode(nil, &seed)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(v)
	f.Add([]byte{formatCompact})
	f.Add([]byte(jsonSeed))
	f.Fuzz(func(t *testing.T, v []byte) {
		var rec T
		if err := decode(v, &rec); err != nil || len(v) == 0 || v[0] != formatCompact {
			return
		}
		again, err := encode(nil, &rec)
		if err != nil {
			return // a time or JSON value the encoder refuses: written by hand, not by us
		}
		var back T
		if err := decode(again, &back); err != nil {
			t.Fatalf("re-encoded record does not decode: %v", err)
		}
		if !reflect.DeepEqual(normalize(back), normalize(rec)) {
			t.Fatalf("re-encoded record reads\n%+v\nwas\n%+v", back, rec)
		}
	})
}

func FuzzDecodeExecution(f *testing.F) {
	fuzzDecode(f, benchExecution(), `{"execution_id":"x"}`, appendExecution, decodeExecution)
}

func drawSchedule(t *rapid.T) Schedule {
	s := Schedule{
		ID: text(t, "id"), HandlerID: text(t, "handler"), Method: text(t, "method"),
		Params: raw(t, "params"), Trigger: raw(t, "trigger"), Timezone: text(t, "tz"),
		Paused: rapid.Bool().Draw(t, "paused"), PausedAt: instant(t, "paused_at"),
		MaxAttempts: rapid.IntRange(-1, 10).Draw(t, "max"), Timeout: time.Duration(rapid.Int64().Draw(t, "timeout")),
		NextFire: instant(t, "next"), LastFire: instant(t, "last"),
		FireCount: rapid.Int64().Draw(t, "fires"), MissedCount: rapid.Int64().Draw(t, "missed"),
		Done: rapid.Bool().Draw(t, "done"), CreatedAt: instant(t, "created"), UpdatedAt: instant(t, "updated"),
	}
	if rapid.Bool().Draw(t, "policy") {
		s.Policy = Policy{Misfire: MisfireAll, MisfireLimit: 3, GraceTime: time.Second, RetryOn: []string{RetryOnError}}
	}
	if rapid.Bool().Draw(t, "sourced") {
		s.Source = "file:" + text(t, "source")
	}
	return s
}

// sameTimes holds that each time read back is the instant written, in the
// zone that a JSON round trip gives it (time.Parse's rule).
func sameTimes(t *rapid.T, got, viaJSON []time.Time, names ...string) {
	for i, name := range names {
		g, w := got[i], viaJSON[i]
		gn, gOff := g.Zone()
		wn, wOff := w.Zone()
		if !g.Equal(w) || gn != wn || gOff != wOff || g.Location().String() != w.Location().String() {
			t.Fatalf("%s: %v (%s), JSON gives %v (%s)", name, g, g.Location(), w, w.Location())
		}
	}
}

// The compact form reads back as the schedule was written, byte for byte
// in its strings, params and trigger; times as sameTimes says.
func TestScheduleCodec_RoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := drawSchedule(t)
		v, err := appendSchedule(nil, &s)
		if err != nil {
			t.Fatal(err)
		}
		var got Schedule
		if err := decodeSchedule(v, &got); err != nil {
			t.Fatalf("decode: %v", err)
		}
		var viaJSON Schedule
		if len(s.Trigger) > 0 { // json.Marshal refuses an empty raw message
			j, err := json.Marshal(&s)
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(j, &viaJSON); err != nil {
				t.Fatal(err)
			}
			sameTimes(t, []time.Time{got.PausedAt, got.NextFire, got.LastFire, got.CreatedAt, got.UpdatedAt},
				[]time.Time{viaJSON.PausedAt, viaJSON.NextFire, viaJSON.LastFire, viaJSON.CreatedAt, viaJSON.UpdatedAt},
				"paused_at", "next_fire_time", "last_fire_time", "created_at", "updated_at")
		}
		got.PausedAt, got.NextFire, got.LastFire, got.CreatedAt, got.UpdatedAt = s.PausedAt, s.NextFire, s.LastFire, s.CreatedAt, s.UpdatedAt
		for _, m := range []*json.RawMessage{&s.Params, &s.Trigger} {
			if len(*m) == 0 {
				*m = nil
			}
		}
		if !reflect.DeepEqual(got, s) {
			t.Fatalf("read back\n%+v\nwrote\n%+v", got, s)
		}
	})
}

// A schedule written as JSON by a version before 4 reads as it always did.
func TestDecodeSchedule_JSON(t *testing.T) {
	v := []byte(`{"id":"bench-09999","handler_id":"bench","job_method":"quick_aling","trigger":{"seconds":10,"type":"interval"},` +
		`"max_attempts":1,"policy":{"overlap":"queue"},"next_fire_time":"2026-11-29T12:39:11.60213435Z",` +
		`"created_at":"2026-11-29T12:38:47Z","updated_at":"2026-11-29T12:38:47Z"}`)
	var s Schedule
	if err := decodeSchedule(v, &s); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 29, 12, 38, 47, 0, time.UTC)
	want := Schedule{ID: "bench-09999", HandlerID: "bench", Method: "quick_aling",
		Trigger: json.RawMessage(`{"seconds":10,"type":"interval"}`), MaxAttempts: 1, Policy: Policy{Overlap: OverlapQueue},
		NextFire: time.Date(2026, 11, 29, 12, 39, 11, 602134350, time.UTC), CreatedAt: at, UpdatedAt: at}
	if !reflect.DeepEqual(s, want) {
		t.Fatalf("got\n%+v\nwant\n%+v", s, want)
	}
}

func FuzzDecodeSchedule(f *testing.F) {
	fuzzDecode(f, benchSchedule(), `{"id":"x"}`, appendSchedule, decodeSchedule)
}

// What json.Marshal refuses, the appenders refuse too, rather than storing
// a record that cannot be read back.
func TestAppend_RefusesWhatMarshalRefuses(t *testing.T) {
	tests := []struct {
		name string
		e    Execution
		s    Schedule
	}{
		{name: "invalid result", e: Execution{Result: json.RawMessage(`{"a":`)}},
		{name: "year 10000", e: Execution{StartedAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}},
		{name: "NaN duration", e: Execution{DurationMS: nanValue()}},
		{name: "invalid trigger", s: Schedule{Trigger: json.RawMessage(`nope`)}},
		{name: "invalid params", s: Schedule{Trigger: json.RawMessage(`{}`), Params: json.RawMessage(`[1,`)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.s.Trigger != nil {
				if _, err := json.Marshal(&tt.s); err == nil {
					t.Fatal("json.Marshal accepts it; the case is wrong")
				}
				if _, err := appendSchedule(nil, &tt.s); err == nil {
					t.Fatal("appendSchedule accepted it")
				}
				return
			}
			if _, err := json.Marshal(&tt.e); err == nil {
				t.Fatal("json.Marshal accepts it; the case is wrong")
			}
			if _, err := appendExecution(nil, &tt.e); err == nil {
				t.Fatal("appendExecution accepted it")
			}
		})
	}
}

func nanValue() float64 { var z float64; return z / z }

func benchExecution() Execution {
	now := time.Date(2026, 11, 29, 12, 0, 0, 123456789, time.UTC)
	return Execution{ID: "01M8K35AH0B603GEMVS6RHTEJJ", Attempt: 1, MaxAttempts: 3, ScheduleID: "bench-00042",
		HandlerID: "dingaling", Method: "quick_aling", Status: StatusSucceeded,
		ScheduledAt: now, StartedAt: now.Add(200 * time.Microsecond), CompletedAt: now.Add(time.Millisecond), DurationMS: 1.25,
		Result: json.RawMessage(`{"success":true,"message":"a-ling! a-ling!","counter":31}`)}
}

// benchSchedule is what the bench creates: an interval schedule that has
// fired.
func benchSchedule() Schedule {
	now := time.Date(2026, 11, 29, 12, 0, 0, 123456789, time.UTC)
	return Schedule{ID: "bench-09999", HandlerID: "bench", Method: "quick_aling",
		Trigger:     json.RawMessage(`{"seconds":10,"start_time":"2026-11-29T12:39:11.60213435Z","type":"interval"}`),
		MaxAttempts: 1, NextFire: now.Add(10 * time.Second), LastFire: now, FireCount: 3, CreatedAt: now, UpdatedAt: now}
}

func BenchmarkExecutionCodec(b *testing.B) {
	e := benchExecution()
	v, _ := appendExecution(nil, &e)
	j, _ := json.Marshal(&e)
	b.Run("append", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := appendExecution(make([]byte, 0, 128+len(e.Result)), &e); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json.Marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(&e); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var e Execution
			if err := decodeExecution(v, &e); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json.Unmarshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var e Execution
			if err := json.Unmarshal(j, &e); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// A schedule without a source keeps the bytes of schema version 4, so a
// file written before it reads the same; one with a source is marked by
// its own format byte.
func TestScheduleCodec_Source(t *testing.T) {
	s := Schedule{ID: "s", HandlerID: "h", Method: "m", Trigger: json.RawMessage(`{"type":"interval","seconds":10}`)}
	plain, err := appendSchedule(nil, &s)
	if err != nil || plain[0] != formatCompact {
		t.Fatalf("without source: format %#x, %v; want %#x", plain[0], err, formatCompact)
	}
	s.Source = "file:/etc/schedulezero/schedules.d/s.schedule"
	sourced, err := appendSchedule(nil, &s)
	if err != nil || sourced[0] != formatSourced {
		t.Fatalf("with source: format %#x, %v; want %#x", sourced[0], err, formatSourced)
	}
	var got Schedule
	if err := decodeSchedule(sourced, &got); err != nil || got.Source != s.Source {
		t.Fatalf("read back source %q, %v; want %q", got.Source, err, s.Source)
	}
	if err := decodeSchedule(plain, &got); err != nil || got.Source != "" {
		t.Fatalf("version 4 record: source %q, %v", got.Source, err)
	}
}

// An execution without an instance keeps the bytes of schema version 5, so
// a file written before it reads the same; one with an instance (with or
// without a note) reads it back.
func TestExecutionCodec_Instance(t *testing.T) {
	base := Execution{ID: "x", Attempt: 1, MaxAttempts: 3, ScheduleID: "s", HandlerID: "pool", Method: "m", Status: StatusRunning}
	tests := []struct {
		name                 string
		note, instance, host string
	}{
		{name: "neither"},
		{name: "note only", note: "recovered from handler"},
		{name: "instance only", instance: "b", host: "127.0.0.2"},
		{name: "host only", host: "web-2"},
		{name: "both", note: "recovered from handler", instance: "a", host: "web-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := base
			e.Note, e.Instance, e.Host = tt.note, tt.instance, tt.host
			v, err := appendExecution(nil, &e)
			if err != nil {
				t.Fatal(err)
			}
			if tt.instance == "" && tt.host == "" {
				// The version 5 form: the note, if any, is the last field.
				old := e
				old.Note = ""
				v5, _ := appendExecution(nil, &old)
				if tt.note != "" {
					v5 = appendBytes(v5, tt.note)
				}
				if string(v) != string(v5) {
					t.Fatalf("bytes changed without an instance:\n%x\nwant\n%x", v, v5)
				}
			}
			var got Execution
			if err := decodeExecution(v, &got); err != nil {
				t.Fatal(err)
			}
			if got.Note != tt.note || got.Instance != tt.instance || got.Host != tt.host {
				t.Fatalf("read back note %q instance %q host %q; want %q %q %q", got.Note, got.Instance, got.Host, tt.note, tt.instance, tt.host)
			}
		})
	}
}
