package trigger

import (
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/calendar"
)

// Calendar schedules follow systemd, plus the DST rule of
// docs/scheduling.md: a skipped wall time runs once at the first instant
// after the gap; a repeated one runs once, at its first occurrence.
func TestCalendar_DST(t *testing.T) {
	tests := []struct {
		name, zone, expr, from string
		want                   []string // RFC 3339 in the zone
	}{
		{"new york spring skipped time runs after the gap", "America/New_York", "*-*-* 02:30", "2027-03-13T12:00:00-05:00",
			[]string{"2027-03-14T03:00:00-04:00", "2027-03-15T02:30:00-04:00"}},
		{"new york fall repeated time runs once", "America/New_York", "*-*-* 01:30", "2026-10-31T12:00:00-04:00",
			[]string{"2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"}},
		{"new york every 10 minutes in the gap: once", "America/New_York", "*-*-* 02:00/10", "2027-03-14T01:55:00-05:00",
			[]string{"2027-03-14T03:00:00-04:00", "2027-03-15T02:00:00-04:00"}},
		{"new york time after the gap is not pulled forward", "America/New_York", "*-*-* 03:30", "2027-03-14T01:00:00-05:00",
			[]string{"2027-03-14T03:30:00-04:00", "2027-03-15T03:30:00-04:00"}},
		{"berlin spring", "Europe/Berlin", "*-*-* 02:30", "2027-03-27T12:00:00+01:00",
			[]string{"2027-03-28T03:00:00+02:00", "2027-03-29T02:30:00+02:00"}},
		{"berlin fall", "Europe/Berlin", "*-*-* 02:30", "2026-10-24T12:00:00+02:00",
			[]string{"2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"}},
		{"lord howe spring half-hour gap", "Australia/Lord_Howe", "*-*-* 02:15", "2026-10-03T12:00:00+10:30",
			[]string{"2026-10-04T02:30:00+11:00", "2026-10-05T02:15:00+11:00"}},
		{"lord howe fall half-hour fold", "Australia/Lord_Howe", "*-*-* 01:45", "2026-04-04T12:00:00+11:00",
			[]string{"2026-04-05T01:45:00+11:00", "2026-04-06T01:45:00+10:30"}},
		{"apia skipped day", "Pacific/Apia", "*-*-* 12:00", "2011-12-29T13:00:00-10:00",
			[]string{"2011-12-31T00:00:00+14:00", "2011-12-31T12:00:00+14:00"}},
		{"apia one-off date in the skipped day", "Pacific/Apia", "2011-12-30 08:00", "2011-12-01T00:00:00-10:00",
			[]string{"2011-12-31T00:00:00+14:00"}},
		{"utc has no gaps", "UTC", "*-*-* 02:30", "2027-03-13T12:00:00Z",
			[]string{"2027-03-14T02:30:00Z", "2027-03-15T02:30:00Z"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			loc, err := time.LoadLocation(tt.zone)
			if err != nil {
				t.Fatal(err)
			}
			ev, err := calendar.Parse(tt.expr, loc)
			if err != nil {
				t.Fatal(err)
			}
			c := Calendar{Event: ev}
			from, err := time.Parse(time.RFC3339, tt.from)
			if err != nil {
				t.Fatal(err)
			}
			at := from
			for i, want := range tt.want {
				got, ok := c.Next(at)
				if !ok {
					t.Fatalf("fire %d: none, want %s", i, want)
				}
				if s := got.In(loc).Format(time.RFC3339); s != want {
					t.Fatalf("fire %d: %s, want %s", i, s, want)
				}
				at = got
			}
			if len(tt.want) == 1 {
				if got, ok := c.Next(at); ok {
					t.Errorf("a one-off fired again at %s", got)
				}
			}
		})
	}
}
