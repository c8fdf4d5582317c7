package trigger

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// Compile is Parse without the normalized form: the same trigger, and the
// same errors, for every kind of value the fast paths of parser.value take
// or pass on to the decoder.
func TestCompile_SameAsParse(t *testing.T) {
	for _, raw := range []string{
		`{"type":"interval","seconds":100,"start_time":"2026-01-02T03:04:05.123456789Z"}`,
		`{"type":"interval","seconds":"90","start_time":"2026-01-02T03:04:05Z"}`, // a number as a string
		`{"type":"interval","minutes":1.5e1,"end_time":"2026-02-01T00:00:00Z"}`,  // exponent; start_time implicit
		`{"type":"interval","seconds":-1}`,                                       // refused
		`{"type":"interval","seconds":true}`,                                     // not a number: the decoder's path
		`{"type":"date","run_date":"2026-01-02T10:00:00"}`,
		`{"type":"date","run_date":"2026-01-02T10:00:00\u005a"}`, // escaped: the decoder's path
		`{"type":"date","run_date":1767323100.5}`,
		`{"type":"date","run_date":"\u00e9t\u00e9"}`, // refused, after the decoder
		`{"type":"cron","expr":"*/5 * * * *"}`,
		`{"type":"cron","expr":"*/5 * * * *","timezone":"Europe/Berlin"}`,
		`{"type":"calendar","expr":"Mon *-*-* 09:00"}`,
		`{"type":"nope"}`,
		`{"type":null}`,
	} {
		t.Run(raw, func(t *testing.T) {
			want, _, wantErr := Parse(json.RawMessage(raw), parseNow, time.UTC)
			got, err := Compile(json.RawMessage(raw), parseNow, time.UTC)
			if !reflect.DeepEqual(got, want) || !reflect.DeepEqual(err, wantErr) {
				t.Fatalf("Compile = %#v, %v; Parse = %#v, %v", got, err, want, wantErr)
			}
		})
	}
}

// parser.value's fast paths give what the decoder gives.
func TestParserValue_FastPathsAsTheDecoder(t *testing.T) {
	for _, raw := range []string{`"2026-01-02T03:04:05Z"`, `""`, `"a\"b"`, `"\u00e9"`, `"é"`, "\"\xff\"",
		`100`, `-1.5e3`, `0`, `1E+2`, `true`, `null`, `[1]`, `{"a":1}`} {
		var want any
		dec := json.NewDecoder(bytes.NewReader([]byte(raw)))
		dec.UseNumber()
		if err := dec.Decode(&want); err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		p := &parser{obj: map[string]json.RawMessage{"k": json.RawMessage(raw)}}
		got, ok, err := p.value("k")
		if err != nil || ok != (want != nil) || !reflect.DeepEqual(got, want) {
			t.Errorf("value(%s) = %#v, %v, %v; the decoder: %#v", raw, got, ok, err, want)
		}
	}
}
