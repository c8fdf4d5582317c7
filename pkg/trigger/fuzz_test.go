package trigger

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/field"
)

// checkForward walks a trigger and fails if Next ever returns a time that
// is not after the instant it was asked about.
func checkForward(t *testing.T, trig Trigger, from time.Time) []time.Time {
	t.Helper()
	var seen []time.Time
	for range 20 {
		next, ok := trig.Next(from)
		if !ok {
			break
		}
		if !next.After(from) {
			t.Fatalf("Next(%s) = %s, not after its argument", from, next)
		}
		seen = append(seen, next)
		from = next
	}
	return seen
}

func FuzzParse(f *testing.F) {
	seeds := []string{
		`{"type":"date","run_date":"2026-01-02T03:04:05"}`,
		`{"type":"date","run_date":1767323100.5}`,
		`{"type":"date","run_date":"2026-03-29 02:30:00.123+02:00"}`,
		`{"type":"interval","minutes":1}`,
		`{"type":"interval","weeks":"1","seconds":-1,"start_time":"2026-01-01","end_time":"2027-01-01Z"}`,
		`{"type":"interval","seconds":1e-9}`,
		`{"type":"cron","hour":"*/2","minute":"5-50/7","day_of_week":"mon-fri"}`,
		`{"type":"cron","day":"last fri,2nd mon,15","month":"feb","timezone":"Pacific/Apia"}`,
		`{"type":"cron","year":"2030/3","week":53,"second":"59/9223372036854775807"}`,
		`{"type":"cron","expr":"CRON_TZ=Australia/Lord_Howe */7 1-3 L,15W * 5L"}`,
		`{"type":"cron","crontab":"@every 1h","end_time":"2026-02-01T00:00:00Z"}`,
		`{"type":"cron","expr":"0 0 30 2 *"}`,
		`{"type":"calendar"}`,
		`[]`, `null`, `{`, `{"type":"cron"}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		trig, norm, err := Parse(raw, parseNow, ny)
		if err != nil {
			var fe *field.Error
			if !errors.As(err, &fe) {
				t.Fatalf("Parse(%q) error %v is %T, want *field.Error", raw, err, err)
			}
			return
		}
		first := checkForward(t, trig, parseNow.Add(-24*time.Hour))
		again, _, err := Parse(json.RawMessage(norm), parseNow.Add(time.Hour), ny)
		if err != nil {
			t.Fatalf("Parse(normalized %s) of %q: %v", norm, raw, err)
		}
		second := checkForward(t, again, parseNow.Add(-24*time.Hour))
		if len(first) != len(second) {
			t.Fatalf("normalized %s: %d fire times, original %q: %d", norm, len(second), raw, len(first))
		}
		for i := range first {
			if !first[i].Equal(second[i]) {
				t.Fatalf("normalized %s: fire #%d = %s, original %q: %s", norm, i, second[i], raw, first[i])
			}
		}
	})
}

func FuzzParseCrontab(f *testing.F) {
	seeds := []string{
		"* * * * *", "*/5 * * * * *", "0 9 * * mon-fri", "0 0 L * *", "0 0 LW * *", "0 0 15W * *",
		"0 0 * * 5L", "0 0 * * mon#2", "0 0 1 * 7", "@yearly", "@every 1h", "TZ=Europe/Berlin 30 2 * * *",
		"CRON_TZ=Pacific/Apia 0 12 30 12 *", "0 0 30 2 *", "59/9223372036854775807 * * * *", "1-5/0 * * * *",
		"0 0 31W 2 ?", "? ? ? ? ?", "0 0 29 2 mon",
	}
	for _, s := range seeds {
		f.Add(s, int64(1767323045))
	}
	zone, err := time.LoadLocation("Australia/Lord_Howe")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, expr string, from int64) {
		c, err := ParseCrontab(expr, zone)
		if err != nil {
			var fe *field.Error
			if !errors.As(err, &fe) || fe.Field != "expr" {
				t.Fatalf("ParseCrontab(%q) error %v, want *field.Error for expr", expr, err)
			}
			return
		}
		checkForward(t, c, time.Unix(from%(1<<40), 0))
	})
}
