package trigger

import (
	"encoding/json"
	"testing"
	"time"
)

func TestParseCrontab_Next(t *testing.T) {
	tests := []struct {
		expr, from string
		want       []string
	}{
		{"* * * * *", "2026-01-02T03:04:05Z", []string{"2026-01-02T03:05:00Z", "2026-01-02T03:06:00Z"}},
		{"*/20 * * * * *", "2026-01-02T03:04:05.5Z", []string{"2026-01-02T03:04:20Z", "2026-01-02T03:04:40Z", "2026-01-02T03:05:00Z"}},
		{"0 0 29 2 *", "2026-01-01T00:00:00Z", []string{"2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z"}},
		{"0 0 31 * *", "2026-01-31T00:00:00Z", []string{"2026-03-31T00:00:00Z", "2026-05-31T00:00:00Z"}},
		{"0 12 * jan,jul mon", "2026-01-01T00:00:00Z", []string{"2026-01-05T12:00:00Z", "2026-01-12T12:00:00Z"}},
		{"0 0 1 * 7", "2026-01-01T00:00:00Z", []string{"2026-01-04T00:00:00Z", "2026-01-11T00:00:00Z", "2026-01-18T00:00:00Z", "2026-01-25T00:00:00Z", "2026-02-01T00:00:00Z"}},
		{"0 0 */2 * mon", "2026-01-01T00:00:00Z", []string{"2026-01-05T00:00:00Z", "2026-01-19T00:00:00Z"}}, // "*" prefix: AND
		{"0 0 L * *", "2026-02-01T00:00:00Z", []string{"2026-02-28T00:00:00Z", "2026-03-31T00:00:00Z"}},
		{"0 0 LW * *", "2026-01-01T00:00:00Z", []string{"2026-01-30T00:00:00Z", "2026-02-27T00:00:00Z"}},
		{"0 0 15W * *", "2026-02-01T00:00:00Z", []string{"2026-02-16T00:00:00Z", "2026-03-16T00:00:00Z", "2026-04-15T00:00:00Z"}},
		{"0 0 1W * *", "2026-08-01T00:00:00Z", []string{"2026-08-03T00:00:00Z"}},
		{"0 0 31W * *", "2026-05-01T00:00:00Z", []string{"2026-05-29T00:00:00Z"}},
		{"0 0 * * 5L", "2026-01-01T00:00:00Z", []string{"2026-01-30T00:00:00Z", "2026-02-27T00:00:00Z"}},
		{"0 0 * * mon#2", "2026-01-01T00:00:00Z", []string{"2026-01-12T00:00:00Z", "2026-02-09T00:00:00Z"}},
		{"0 0 * * 1#5", "2026-01-01T00:00:00Z", []string{"2026-03-30T00:00:00Z", "2026-06-29T00:00:00Z"}},
		{"0 9 * * fri-sun", "2026-01-01T00:00:00Z", []string{"2026-01-02T09:00:00Z", "2026-01-03T09:00:00Z", "2026-01-04T09:00:00Z", "2026-01-09T09:00:00Z"}},
		{"0 9 ? * 1-5/2", "2026-01-01T00:00:00Z", []string{"2026-01-02T09:00:00Z", "2026-01-05T09:00:00Z", "2026-01-07T09:00:00Z"}},
		{"5/20 * * * *", "2026-01-01T00:00:00Z", []string{"2026-01-01T00:05:00Z", "2026-01-01T00:25:00Z", "2026-01-01T00:45:00Z", "2026-01-01T01:05:00Z"}},
		{"@yearly", "2026-05-01T00:00:00Z", []string{"2027-01-01T00:00:00Z"}},
		{"@annually", "2026-05-01T00:00:00Z", []string{"2027-01-01T00:00:00Z"}},
		{"@monthly", "2026-05-01T00:00:00Z", []string{"2026-06-01T00:00:00Z"}},
		{"@weekly", "2026-01-01T00:00:00Z", []string{"2026-01-04T00:00:00Z"}},
		{"@midnight", "2026-01-01T00:00:00Z", []string{"2026-01-02T00:00:00Z"}},
		{"@hourly", "2026-01-01T00:00:00Z", []string{"2026-01-01T01:00:00Z"}},
		{"TZ=Asia/Tokyo 0 9 * * *", "2026-01-01T00:00:00Z", []string{"2026-01-02T00:00:00Z"}},
		{"0 0 30 2 *", "2026-01-01T00:00:00Z", nil},
		{"0 0 31 4,6 *", "2026-01-01T00:00:00Z", nil},
		{"0 0 31 4,6 mon", "2026-01-01T00:00:00Z", []string{"2026-04-06T00:00:00Z"}},
		{"0 0 30 2 */1", "2026-01-01T00:00:00Z", nil},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			c, err := ParseCrontab(tt.expr, time.UTC)
			if err != nil {
				t.Fatalf("ParseCrontab: %v", err)
			}
			from := mustTime(t, tt.from)
			assertNext(t, c, from, tt.want)
			if tt.want == nil {
				if next, ok := c.Next(from); ok {
					t.Errorf("Next = %s, want none", next)
				}
			}
		})
	}
}

// TestCron_DST writes out the wall-clock rules: a time skipped by a spring
// forward fires once at the jump; a time repeated by a fall back fires once,
// at its first occurrence.
func TestCron_DST(t *testing.T) {
	tests := []struct {
		name, zone, expr, from string
		want                   []string
	}{
		{"new york spring skipped time fires at jump", "America/New_York", "30 2 * * *", "2026-03-07T12:00:00-05:00",
			[]string{"2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00"}},
		{"new york spring hourly", "America/New_York", "0 * * * *", "2026-03-08T00:30:00-05:00",
			[]string{"2026-03-08T01:00:00-05:00", "2026-03-08T03:00:00-04:00", "2026-03-08T04:00:00-04:00"}},
		{"new york fall repeated time fires once", "America/New_York", "30 1 * * *", "2026-10-31T12:00:00-04:00",
			[]string{"2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"}},
		{"new york fall half-hourly", "America/New_York", "*/30 * * * *", "2026-11-01T00:45:00-04:00",
			[]string{"2026-11-01T01:00:00-04:00", "2026-11-01T01:30:00-04:00", "2026-11-01T02:00:00-05:00"}},
		{"new york fall from inside second pass", "America/New_York", "*/30 * * * *", "2026-11-01T01:10:00-05:00",
			[]string{"2026-11-01T02:00:00-05:00"}},
		{"berlin spring", "Europe/Berlin", "30 2 * * *", "2026-03-28T12:00:00+01:00",
			[]string{"2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00"}},
		{"berlin spring every minute in gap fires once", "Europe/Berlin", "* 2 * * *", "2026-03-29T01:59:30+01:00",
			[]string{"2026-03-29T01:00:00Z", "2026-03-30T02:00:00+02:00"}},
		{"berlin fall", "Europe/Berlin", "30 2 * * *", "2026-10-24T12:00:00+02:00",
			[]string{"2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"}},
		{"lord howe spring half-hour gap", "Australia/Lord_Howe", "15 2 * * *", "2026-10-03T12:00:00+10:30",
			[]string{"2026-10-04T02:30:00+11:00", "2026-10-05T02:15:00+11:00"}},
		{"lord howe fall half-hour fold", "Australia/Lord_Howe", "45 1 * * *", "2026-04-04T12:00:00+11:00",
			[]string{"2026-04-05T01:45:00+11:00", "2026-04-06T01:45:00+10:30"}},
		{"lord howe fall every 10 minutes", "Australia/Lord_Howe", "*/10 1 * * *", "2026-04-05T01:35:00+11:00",
			[]string{"2026-04-05T01:40:00+11:00", "2026-04-05T01:50:00+11:00", "2026-04-06T01:00:00+10:30"}},
		{"apia skipped day", "Pacific/Apia", "0 12 * * *", "2011-12-29T13:00:00-10:00",
			[]string{"2011-12-31T00:00:00+14:00", "2011-12-31T12:00:00+14:00"}},
		{"apia skipped day of month", "Pacific/Apia", "0 0 30 * *", "2011-12-01T00:00:00-10:00",
			[]string{"2011-12-31T00:00:00+14:00", "2012-01-30T00:00:00+14:00"}},
		{"apia spring", "Pacific/Apia", "30 3 * * *", "2012-09-29T12:00:00+13:00",
			[]string{"2012-09-30T04:00:00+14:00", "2012-10-01T03:30:00+14:00"}},
		{"apia fall", "Pacific/Apia", "30 3 * * *", "2012-03-31T12:00:00+14:00",
			[]string{"2012-04-01T03:30:00+14:00", "2012-04-02T03:30:00+13:00"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			loc := mustZone(t, tt.zone)
			c, err := ParseCrontab(tt.expr, loc)
			if err != nil {
				t.Fatalf("ParseCrontab: %v", err)
			}
			assertNext(t, c, mustTime(t, tt.from), tt.want)
			// The field form compiles to the same Cron.
			if tt.expr == "30 2 * * *" {
				trig, _, err := Parse(json.RawMessage(`{"type":"cron","hour":2,"minute":30}`), parseNow, loc)
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				assertNext(t, trig, mustTime(t, tt.from), tt.want)
			}
		})
	}
}

func TestCron_StartEnd(t *testing.T) {
	c, err := ParseCrontab("0 * * * *", time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	c.start = mustTime(t, "2026-01-01T05:00:00Z")
	c.end = mustTime(t, "2026-01-01T07:00:00Z")
	assertNext(t, c, mustTime(t, "2025-01-01T00:00:00Z"),
		[]string{"2026-01-01T05:00:00Z", "2026-01-01T06:00:00Z", "2026-01-01T07:00:00Z"})
	if next, ok := c.Next(mustTime(t, "2026-01-01T07:00:00Z")); ok {
		t.Errorf("Next after end = %s, want none", next)
	}
}

func TestInterval_FarFuture(t *testing.T) {
	iv := Interval{Every: time.Hour, Start: mustTime(t, "1900-01-01T00:00:00Z")}
	got, ok := iv.Next(mustTime(t, "2500-01-01T00:30:00Z"))
	if !ok || !got.Equal(mustTime(t, "2500-01-01T01:00:00Z")) {
		t.Errorf("Next = %s, %v; want 2500-01-01T01:00:00Z", got, ok)
	}
}

func BenchmarkCronNext(b *testing.B) {
	ny := mustZone(b, "America/New_York")
	cases := []struct{ name, expr string }{
		{"every_minute", "* * * * *"},
		{"weekdays_9am", "0 9 * * mon-fri"},
		{"last_friday", "0 0 * * 5L"},
		{"feb29_monday", "0 0 29 2 mon"},
		{"impossible", "0 0 30 2 *"},
	}
	for _, tc := range cases {
		c, err := ParseCrontab(tc.expr, ny)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(tc.name, func(b *testing.B) {
			t := time.Date(2026, 1, 1, 0, 0, 0, 0, ny)
			b.ReportAllocs()
			for b.Loop() {
				next, ok := c.Next(t)
				if ok {
					t = next
				} else {
					t = time.Date(2026, 1, 1, 0, 0, 0, 0, ny)
				}
			}
		})
	}
}
