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

// sameAsMarshal holds that what the appender wrote reads back exactly as
// json.Marshal's output of the same record does.
func sameAsMarshal[T any](t *rapid.T, v *T, got []byte) {
	want, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("json.Marshal: %v", err)
	}
	if !json.Valid(got) {
		t.Fatalf("invalid JSON: %s", got)
	}
	var a, b any
	if err := json.Unmarshal(got, &a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(want, &b); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("appender:\n%s\njson.Marshal:\n%s", got, want)
	}
	var back T
	if err := json.Unmarshal(got, &back); err != nil {
		t.Fatal(err)
	}
	var fromWant T
	_ = json.Unmarshal(want, &fromWant)
	if !reflect.DeepEqual(normalize(back), normalize(fromWant)) {
		t.Fatalf("decoded differently:\n%+v\n%+v", back, fromWant)
	}
}

// normalize compacts raw messages, the one thing the appenders keep as
// given where json.Marshal compacts.
func normalize(v any) any {
	out, _ := json.Marshal(v)
	var m any
	_ = json.Unmarshal(out, &m)
	return m
}

func TestAppendExecution_MatchesMarshal(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		e := Execution{
			ID: text(t, "id"), Attempt: rapid.IntRange(0, 1<<31).Draw(t, "attempt"),
			MaxAttempts: rapid.IntRange(-1, 100).Draw(t, "max"), ScheduleID: text(t, "sched"),
			HandlerID: text(t, "handler"), Method: text(t, "method"), Status: Status(text(t, "status")),
			ScheduledAt: instant(t, "scheduled"), StartedAt: instant(t, "started"), CompletedAt: instant(t, "completed"),
			DurationMS: rapid.SampledFrom([]float64{0, 1.5, 1e-7, 3e21, 123456.789, -2, 0.000001}).Draw(t, "dur"),
			Result:     raw(t, "result"), Error: text(t, "error"), ParamsSummary: text(t, "params"),
		}
		got, err := appendExecution(nil, &e)
		if err != nil {
			t.Fatal(err)
		}
		sameAsMarshal(t, &e, got)
	})
}

func TestAppendSchedule_MatchesMarshal(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := Schedule{
			ID: text(t, "id"), HandlerID: text(t, "handler"), Method: text(t, "method"),
			Params: raw(t, "params"), Trigger: raw(t, "trigger"), Timezone: text(t, "tz"),
			Paused: rapid.Bool().Draw(t, "paused"), PausedAt: instant(t, "paused_at"),
			MaxAttempts: rapid.IntRange(-1, 10).Draw(t, "max"), Timeout: time.Duration(rapid.Int64().Draw(t, "timeout")),
			NextFire: instant(t, "next"), LastFire: instant(t, "last"),
			FireCount: rapid.Int64().Draw(t, "fires"), MissedCount: rapid.Int64().Draw(t, "missed"),
			Done: rapid.Bool().Draw(t, "done"), CreatedAt: instant(t, "created"), UpdatedAt: instant(t, "updated"),
		}
		if len(s.Trigger) == 0 {
			s.Trigger = nil // json.Marshal refuses an empty raw message
		}
		if rapid.Bool().Draw(t, "policy") {
			s.Policy = Policy{Misfire: MisfireAll, MisfireLimit: 3, GraceTime: time.Second, RetryOn: []string{RetryOnError}}
		}
		got, err := appendSchedule(nil, &s)
		if err != nil {
			t.Fatal(err)
		}
		sameAsMarshal(t, &s, got)
	})
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

func BenchmarkAppendExecution(b *testing.B) {
	e := Execution{ID: "01M8K35AH0B603GEMVS6RHTEJJ", Attempt: 1, MaxAttempts: 3, ScheduleID: "bench-00042",
		HandlerID: "dingaling", Method: "quick_aling", Status: StatusSucceeded,
		ScheduledAt: time.Now(), StartedAt: time.Now(), CompletedAt: time.Now(), DurationMS: 1.25,
		Result: json.RawMessage(`{"success":true,"message":"a-ling! a-ling!","counter":31}`)}
	b.Run("append", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := appendExecution(make([]byte, 0, 448+len(e.Result)), &e); err != nil {
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
}
