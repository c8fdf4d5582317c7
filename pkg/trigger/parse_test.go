package trigger

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/field"
)

var parseNow = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func TestParse_Accepts(t *testing.T) {
	berlin := mustZone(t, "Europe/Berlin")
	tests := []struct {
		name  string
		raw   string
		loc   *time.Location
		from  string   // RFC 3339; default parseNow
		want  []string // next fire times, RFC 3339
		check func(t *testing.T, trig Trigger)
	}{
		{name: "date naive in loc", raw: `{"type":"date","run_date":"2026-01-02T10:00:00"}`, loc: berlin,
			want: []string{"2026-01-02T09:00:00Z"}},
		{name: "date space separated", raw: `{"type":"date","run_date":"2026-01-02 03:04:06"}`,
			want: []string{"2026-01-02T03:04:06Z"}},
		{name: "date fractional", raw: `{"type":"date","run_date":"2026-01-02T03:04:05.25"}`,
			want: []string{"2026-01-02T03:04:05.25Z"}},
		{name: "date Z", raw: `{"type":"date","run_date":"2026-01-02T05:00:00Z"}`, loc: berlin,
			want: []string{"2026-01-02T05:00:00Z"}},
		{name: "date offset", raw: `{"type":"date","run_date":"2026-01-02T06:00:00+02:00"}`,
			want: []string{"2026-01-02T04:00:00Z"}},
		{name: "date only", raw: `{"type":"date","run_date":"2026-01-03"}`,
			want: []string{"2026-01-03T00:00:00Z"}},
		{name: "date unix int", raw: `{"type":"date","run_date":1767323100}`,
			want: []string{"2026-01-02T03:05:00Z"}},
		{name: "date unix float", raw: `{"type":"date","run_date":1767323100.5}`,
			want: []string{"2026-01-02T03:05:00.5Z"}},
		{name: "date in the past", raw: `{"type":"date","run_date":"2020-01-01T00:00:00Z"}`,
			from: "2019-12-31T00:00:00Z", want: []string{"2020-01-01T00:00:00Z"}},
		{name: "date naive in spring-forward gap", raw: `{"type":"date","run_date":"2026-03-29T02:30:00"}`, loc: berlin,
			from: "2026-03-01T00:00:00Z", want: []string{"2026-03-29T01:00:00Z"}},
		{name: "date naive in fall-back fold takes first", raw: `{"type":"date","run_date":"2026-10-25T02:30:00"}`, loc: berlin,
			from: "2026-10-01T00:00:00Z", want: []string{"2026-10-25T00:30:00Z"}},
		{name: "interval default start now", raw: `{"type":"interval","minutes":30}`,
			from: "2026-01-02T03:00:00Z",
			want: []string{"2026-01-02T03:04:05Z", "2026-01-02T03:34:05Z", "2026-01-02T04:04:05Z"}},
		{name: "interval all units", raw: `{"type":"interval","weeks":1,"days":1,"hours":1,"minutes":1,"seconds":1.5,"start_time":"2026-01-01T00:00:00Z"}`,
			from: "2026-01-01T00:00:00Z", want: []string{"2026-01-09T01:01:01.5Z"}},
		{name: "interval numeric strings", raw: `{"type":"interval","hours":"2","start_time":"2026-01-01T00:00:00Z"}`,
			want: []string{"2026-01-02T04:00:00Z"}},
		{name: "interval end_time", raw: `{"type":"interval","hours":1,"start_time":"2026-01-02T00:00:00Z","end_time":"2026-01-02T05:00:00Z"}`,
			want: []string{"2026-01-02T04:00:00Z", "2026-01-02T05:00:00Z"}},
		{name: "interval ignores DST", raw: `{"type":"interval","days":1,"start_time":"2026-03-28T12:00:00"}`, loc: berlin,
			from: "2026-03-28T12:00:00+01:00", want: []string{"2026-03-29T11:00:00Z", "2026-03-30T11:00:00Z"}},
		{name: "cron fields hour only", raw: `{"type":"cron","hour":5}`,
			want: []string{"2026-01-02T05:00:00Z", "2026-01-03T05:00:00Z"}},
		{name: "cron fields strings", raw: `{"type":"cron","day_of_week":"mon-fri","hour":"9","minute":"*/30"}`,
			want: []string{"2026-01-02T09:00:00Z", "2026-01-02T09:30:00Z", "2026-01-05T09:00:00Z"}},
		{name: "cron fields weekday numbers 0=mon", raw: `{"type":"cron","day_of_week":0,"hour":0}`,
			want: []string{"2026-01-05T00:00:00Z"}},
		{name: "cron fields month name day last", raw: `{"type":"cron","month":"feb","day":"last"}`,
			want: []string{"2026-02-28T00:00:00Z", "2027-02-28T00:00:00Z"}},
		{name: "cron fields nth weekday", raw: `{"type":"cron","day":"2nd mon","hour":8}`,
			want: []string{"2026-01-12T08:00:00Z", "2026-02-09T08:00:00Z"}},
		{name: "cron fields last weekday", raw: `{"type":"cron","day":"last fri"}`,
			want: []string{"2026-01-30T00:00:00Z"}},
		{name: "cron fields day and dow AND", raw: `{"type":"cron","day":13,"day_of_week":"fri"}`,
			want: []string{"2026-02-13T00:00:00Z", "2026-03-13T00:00:00Z", "2026-11-13T00:00:00Z"}},
		{name: "cron fields week", raw: `{"type":"cron","week":10,"day_of_week":"wed"}`,
			want: []string{"2026-03-04T00:00:00Z", "2027-03-10T00:00:00Z"}},
		{name: "cron fields year", raw: `{"type":"cron","year":"2027-2028"}`,
			want: []string{"2027-01-01T00:00:00Z", "2028-01-01T00:00:00Z"}},
		{name: "cron fields timezone", raw: `{"type":"cron","hour":9,"timezone":"Europe/Berlin"}`,
			want: []string{"2026-01-02T08:00:00Z"}},
		{name: "cron fields start_time naive in zone", raw: `{"type":"cron","hour":9,"timezone":"Europe/Berlin","start_time":"2026-02-01 00:00:00"}`,
			want: []string{"2026-02-01T08:00:00Z"}},
		{name: "cron fields end_time", raw: `{"type":"cron","hour":9,"end_time":"2026-01-03T09:00:00Z"}`,
			want: []string{"2026-01-02T09:00:00Z", "2026-01-03T09:00:00Z"}},
		{name: "cron fields null ignored", raw: `{"type":"cron","hour":9,"minute":null}`,
			want: []string{"2026-01-02T09:00:00Z"}},
		{name: "cron expr", raw: `{"type":"cron","expr":"0 9 * * mon-fri"}`,
			want: []string{"2026-01-02T09:00:00Z", "2026-01-05T09:00:00Z"}},
		{name: "cron crontab alias", raw: `{"type":"cron","crontab":"*/15 * * * *"}`,
			want: []string{"2026-01-02T03:15:00Z"}},
		{name: "cron expr six fields", raw: `{"type":"cron","expr":"30 * * * * *"}`,
			want: []string{"2026-01-02T03:04:30Z", "2026-01-02T03:05:30Z"}},
		{name: "cron expr CRON_TZ", raw: `{"type":"cron","expr":"CRON_TZ=Europe/Berlin 0 9 * * *"}`,
			want: []string{"2026-01-02T08:00:00Z"}},
		{name: "cron expr timezone key", raw: `{"type":"cron","expr":"0 9 * * *","timezone":"America/New_York"}`,
			want: []string{"2026-01-02T14:00:00Z"}},
		{name: "cron expr @every", raw: `{"type":"cron","expr":"@every 90m"}`,
			want: []string{"2026-01-02T04:34:05Z", "2026-01-02T06:04:05Z"},
			check: func(t *testing.T, trig Trigger) {
				if _, ok := trig.(Interval); !ok {
					t.Errorf("@every = %T, want Interval", trig)
				}
			}},
		{name: "cron expr @daily", raw: `{"type":"cron","expr":"@daily"}`,
			want: []string{"2026-01-03T00:00:00Z"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			loc := tt.loc
			if loc == nil {
				loc = time.UTC
			}
			trig, norm, err := Parse(json.RawMessage(tt.raw), parseNow, loc)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			from := parseNow
			if tt.from != "" {
				from = mustTime(t, tt.from)
			}
			assertNext(t, trig, from, tt.want)
			if tt.check != nil {
				tt.check(t, trig)
			}
			// The normalized form parses to the same trigger with any now
			// and, where it names its zone, any loc.
			again, norm2, err := Parse(norm, parseNow.Add(1000*time.Hour), loc)
			if err != nil {
				t.Fatalf("Parse(normalized %s): %v", norm, err)
			}
			if string(norm) != string(norm2) {
				t.Errorf("normalized form not stable:\n%s\n%s", norm, norm2)
			}
			assertNext(t, again, from, tt.want)
		})
	}
}

func assertNext(t *testing.T, trig Trigger, from time.Time, want []string) {
	t.Helper()
	got := nextN(trig, from, len(want)+1)
	for i, w := range want {
		if i >= len(got) {
			t.Fatalf("Next #%d: none, want %s", i, w)
		}
		if !got[i].Equal(mustTime(t, w)) {
			t.Fatalf("Next #%d = %s, want %s", i, got[i].UTC().Format(time.RFC3339Nano), w)
		}
	}
}

func TestParse_Normalized(t *testing.T) {
	ny := mustZone(t, "America/New_York")
	tests := []struct {
		name, raw, want string
	}{
		{"date naive gets offset", `{"type":"date","run_date":"2026-07-01 09:00:00"}`,
			`{"run_date":"2026-07-01T09:00:00-04:00","type":"date"}`},
		{"interval start made explicit", `{"type":"interval","hours":"1"}`,
			`{"hours":1,"start_time":"2026-01-01T22:04:05-05:00","type":"interval"}`},
		{"misspelt key rejected", `{"type":"cron","Hour":1}`, ``},
		{"cron fields lower-cased", `{"type":"cron","day_of_week":" MON-Fri ","hour":9}`,
			`{"day_of_week":"mon-fri","hour":9,"timezone":"America/New_York","type":"cron"}`},
		{"crontab alias and prefix", `{"type":"cron","crontab":"TZ=UTC 0 9 * * *"}`,
			`{"expr":"0 9 * * *","timezone":"UTC","type":"cron"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, norm, err := Parse(json.RawMessage(tt.raw), parseNow, ny)
			if tt.want == "" {
				if err == nil {
					t.Fatalf("Parse(%s) accepted a misspelt key: %s", tt.raw, norm)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if string(norm) != tt.want {
				t.Errorf("normalized = %s, want %s", norm, tt.want)
			}
		})
	}
}

func TestParse_Rejects(t *testing.T) {
	tests := []struct {
		name, raw, field, problem string
	}{
		{"not an object", `[1]`, "", "JSON object"},
		{"null", `null`, "", "JSON object"},
		{"missing type", `{"run_date":"2026-01-01"}`, "type", "missing"},
		{"type not string", `{"type":1}`, "type", "string"},
		{"unsupported type", `{"type":"sometimes"}`, "type",
			"Unsupported trigger type 'sometimes'. Use 'date', 'interval', or 'cron'"},
		{"date missing", `{"type":"date"}`, "run_date", "missing"},
		{"date zero", `{"type":"date","run_date":0}`, "run_date", "missing"},
		{"date empty", `{"type":"date","run_date":""}`, "run_date", "missing"},
		{"date garbage", `{"type":"date","run_date":"tomorrow"}`, "run_date", "ISO-8601"},
		{"date feb 30", `{"type":"date","run_date":"2026-02-30T00:00:00"}`, "run_date", "valid"},
		{"date hour 24", `{"type":"date","run_date":"2026-02-03T24:00:00"}`, "run_date", "valid"},
		{"date bool", `{"type":"date","run_date":true}`, "run_date", "boolean"},
		{"date huge unix", `{"type":"date","run_date":1e300}`, "run_date", "Unix"},
		{"date typo key", `{"type":"date","rundate":"2026-01-01"}`, "rundate", "unknown key"},
		{"interval zero", `{"type":"interval","seconds":0}`, "seconds", "longer than zero"},
		{"interval none", `{"type":"interval"}`, "seconds", "longer than zero"},
		{"interval negative", `{"type":"interval","hours":-1}`, "hours", "longer than zero"},
		{"interval not number", `{"type":"interval","minutes":"ten"}`, "minutes", "not a number"},
		{"interval array", `{"type":"interval","minutes":[1]}`, "minutes", "array"},
		{"interval too long", `{"type":"interval","weeks":1e9}`, "weeks", "292 years"},
		{"interval bad start", `{"type":"interval","hours":1,"start_time":"x"}`, "start_time", "ISO-8601"},
		{"interval end before start", `{"type":"interval","hours":1,"start_time":"2026-01-02T00:00:00Z","end_time":"2026-01-01T00:00:00Z"}`, "end_time", "before"},
		{"interval typo", `{"type":"interval","hour":1}`, "hour", "unknown key"},
		{"cron hour out of range", `{"type":"cron","hour":24}`, "hour", "0-23"},
		{"cron minute bad step", `{"type":"cron","minute":"*/0"}`, "minute", "step"},
		{"cron reversed range", `{"type":"cron","second":"30-10"}`, "second", "after its end"},
		{"cron bad weekday", `{"type":"cron","day_of_week":"funday"}`, "day_of_week", "weekday name"},
		{"cron dow 7", `{"type":"cron","day_of_week":7}`, "day_of_week", "0-6"},
		{"cron bad nth", `{"type":"cron","day":"6th mon"}`, "day", "1st"},
		{"cron day 0", `{"type":"cron","day":0}`, "day", "1-31"},
		{"cron week 54", `{"type":"cron","week":54}`, "week", "1-53"},
		{"cron year 1969", `{"type":"cron","year":1969}`, "year", "1970"},
		{"cron float", `{"type":"cron","hour":1.5}`, "hour", "whole number"},
		{"cron bool", `{"type":"cron","hour":true}`, "hour", "boolean"},
		{"cron empty string", `{"type":"cron","hour":""}`, "hour", "empty"},
		{"cron bad timezone", `{"type":"cron","hour":1,"timezone":"Mars/Olympus"}`, "timezone", "unknown time zone"},
		{"cron typo", `{"type":"cron","hours":1}`, "hours", "unknown key"},
		{"cron expr and fields", `{"type":"cron","expr":"* * * * *","hour":1}`, "hour", "combined"},
		{"cron expr and crontab", `{"type":"cron","expr":"* * * * *","crontab":"* * * * *"}`, "crontab", "not both"},
		{"cron expr empty", `{"type":"cron","expr":" "}`, "expr", "empty"},
		{"cron expr not string", `{"type":"cron","expr":5}`, "expr", "string"},
		{"cron expr 4 fields", `{"type":"cron","expr":"* * * *"}`, "expr", "4 fields"},
		{"cron expr range", `{"type":"cron","expr":"60 * * * *"}`, "expr", "0-59"},
		{"cron crontab alias error", `{"type":"cron","crontab":"* 25 * * *"}`, "crontab", "0-23"},
		{"cron expr bad every", `{"type":"cron","expr":"@every soon"}`, "expr", "@every"},
		{"cron expr bad descriptor", `{"type":"cron","expr":"@fortnightly"}`, "expr", "descriptor"},
		{"cron expr bad prefix zone", `{"type":"cron","expr":"CRON_TZ=Nowhere/Land 0 9 * * *"}`, "expr", "time zone"},
		{"cron expr zone conflict", `{"type":"cron","expr":"CRON_TZ=UTC 0 9 * * *","timezone":"Europe/Berlin"}`, "timezone", "conflicts"},
		{"cron end before start", `{"type":"cron","hour":1,"start_time":"2026-01-02","end_time":"2026-01-01"}`, "end_time", "before"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			trig, _, err := Parse(json.RawMessage(tt.raw), parseNow, time.UTC)
			if err == nil {
				t.Fatalf("Parse(%s) = %#v, want error", tt.raw, trig)
			}
			var fe *field.Error
			if !errors.As(err, &fe) {
				t.Fatalf("error %v is %T, want *field.Error", err, err)
			}
			if fe.Field != tt.field {
				t.Errorf("Field = %q, want %q (error: %v)", fe.Field, tt.field, err)
			}
			if !strings.Contains(fe.Problem, tt.problem) {
				t.Errorf("Problem = %q, want it to contain %q", fe.Problem, tt.problem)
			}
		})
	}
}

func TestParse_Calendar(t *testing.T) {
	now := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	ny, _ := time.LoadLocation("America/New_York")
	tests := []struct {
		name, raw string
		want      []time.Time
		norm      string
		errField  string
	}{
		{name: "weekdays at nine", raw: `{"type":"calendar","expr":"Mon..Fri 09:00"}`,
			want: []time.Time{time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC), time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)},
			norm: "Mon..Fri *-*-* 09:00:00"},
		{name: "zone key", raw: `{"type":"calendar","expr":"daily","timezone":"America/New_York"}`,
			want: []time.Time{time.Date(2026, 11, 29, 0, 0, 0, 0, ny)}},
		{name: "bounded", raw: `{"type":"calendar","expr":"hourly","end_time":"2026-11-28T11:30:00Z"}`,
			want: []time.Time{time.Date(2026, 11, 28, 11, 0, 0, 0, time.UTC)}},
		{name: "bad expression", raw: `{"type":"calendar","expr":"Funday 25:00"}`, errField: "expr"},
		{name: "no expression", raw: `{"type":"calendar"}`, errField: "expr"},
		{name: "unknown key", raw: `{"type":"calendar","expr":"daily","every":1}`, errField: "every"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			trig, norm, err := Parse(json.RawMessage(tt.raw), now, time.UTC)
			if tt.errField != "" {
				var fe *field.Error
				if !errors.As(err, &fe) || fe.Field != tt.errField {
					t.Fatalf("err = %v, want a field error on %q", err, tt.errField)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			at := now
			for _, w := range tt.want {
				got, ok := trig.Next(at)
				if !ok || !got.Equal(w) {
					t.Fatalf("Next(%v) = %v %v, want %v", at, got, ok, w)
				}
				at = got
			}
			if tt.name == "bounded" {
				if got, ok := trig.Next(at); ok {
					t.Fatalf("fired after end_time at %v", got)
				}
			}
			if tt.norm != "" && !strings.Contains(string(norm), tt.norm) {
				t.Fatalf("normalized %s does not hold %q", norm, tt.norm)
			}
			again, _, err := Parse(norm, now.Add(time.Hour), time.UTC)
			if err != nil {
				t.Fatalf("normalized form does not parse again: %v", err)
			}
			a, _ := trig.Next(now)
			b, _ := again.Next(now)
			if !a.Equal(b) {
				t.Fatalf("round trip changed the next fire: %v vs %v", a, b)
			}
		})
	}
}
