package calendar

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/field"
)

func mustLoad(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("load zone %s: %v", name, err)
	}
	return loc
}

func TestParse_Errors(t *testing.T) {
	tests := []struct {
		expr    string
		problem string // substring of Problem
	}{
		{"", "empty"},
		{"bad", `unknown word "bad"`},
		{"today", "not a repeating calendar event"},
		{"Mond", `unknown weekday "Mond"`},
		{"Fri..Mon", "range ends before it starts"},
		{"Mon..", "range has no end"},
		{"Mon..Wed..Fri", "malformed weekday range"},
		{"Mon,,Tue", "expected a weekday"},
		{"*/5", "cron syntax"},
		{"*:0/0", "repetition must not be zero"},
		{"24:00", "hour value"},
		{"*:60", "minute value"},
		{"*:*:60", "second value"},
		{"*-13-01", "month value"},
		{"*-*-32", "day value"},
		{"*-*~29", "day value"},
		{"1969-01-01", "year value"},
		{"2200-01-01", "year value"},
		{"*:*:1.", "decimal point"},
		{"12", "malformed time"},
		{"12:00:00:00", `unexpected ":00" after the time`},
		{"2027~01-01", `"~" may only separate`},
		{"*-*-* 12:00 Europe/Nowhere", "malformed time"},
		{"@", `"@" must be followed`},
		{"@-1", "before 1970"},
		{"@99999999999999999999", "too large"},
		{"*:99999999999", "too large"},
		{"*-*-*T12:00", "unexpected"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			ev, err := Parse(tt.expr, time.UTC)
			if err == nil {
				t.Fatalf("Parse(%q) = %v, want error", tt.expr, ev)
			}
			var fe *field.Error
			if !errors.As(err, &fe) {
				t.Fatalf("Parse(%q) error %T %v, want *field.Error", tt.expr, err, err)
			}
			if fe.Field != "expr" {
				t.Errorf("Field = %q, want expr", fe.Field)
			}
			if !strings.Contains(fe.Problem, tt.problem) {
				t.Errorf("Problem = %q, want it to contain %q", fe.Problem, tt.problem)
			}
			if !strings.Contains(fe.Problem, tt.expr) {
				t.Errorf("Problem = %q, want it to quote the expression", fe.Problem)
			}
			if fe.Fix == "" {
				t.Errorf("Fix is empty for %q", tt.expr)
			}
		})
	}
}

func TestParse_Location(t *testing.T) {
	ny := mustLoad(t, "America/New_York")
	tests := []struct {
		expr string
		loc  *time.Location
		want string
	}{
		{"daily", ny, "America/New_York"},
		{"daily", nil, time.Local.String()},
		{"daily UTC", ny, "UTC"},
		{"daily Europe/Berlin", ny, "Europe/Berlin"},
		{"@1800000000", ny, "UTC"},
		{"daily EST", ny, "America/New_York"},
	}
	for _, tt := range tests {
		ev, err := Parse(tt.expr, tt.loc)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tt.expr, err)
		}
		if got := ev.Location().String(); got != tt.want {
			t.Errorf("Parse(%q).Location() = %s, want %s", tt.expr, got, tt.want)
		}
	}
}

func TestEvent_Next(t *testing.T) {
	ny := mustLoad(t, "America/New_York")
	base := time.Date(2026, 9, 21, 14, 13, 20, 0, time.UTC)
	tests := []struct {
		expr string
		loc  *time.Location
		from time.Time
		want string // RFC 3339 in UTC with fraction, or "" for none
	}{
		{"*-*-* 15:00", time.UTC, base, "2026-09-21T15:00:00Z"},
		{"*-*-* 14:13:20", time.UTC, base, "2026-09-22T14:13:20Z"},                                     // strictly after
		{"*:*:20", time.UTC, base.Add(-time.Nanosecond), "2026-09-21T14:13:20Z"},                       // sub-microsecond base
		{"*:*:20.5", time.UTC, base, "2026-09-21T14:13:20.5Z"},                                         // fractional seconds
		{"*-*-* 12:00", ny, base, "2026-09-21T16:00:00Z"},                                              // EDT
		{"2026-11-01 02:30", ny, base, ""},                                                             // no such wall time... exists: fall back
		{"2027-03-14 02:30", ny, base, ""},                                                             // in the spring-forward gap
		{"*-02-30", time.UTC, base, ""},                                                                // never
		{"2199-12-31 23:59:59", time.UTC, base, "2199-12-31T23:59:59Z"},                                // last year
		{"*-*-* 00:00", time.UTC, time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC), "1970-01-01T00:00:00Z"}, // before the epoch
		{"*-*-* 00:00", time.UTC, time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), ""},                    // beyond systemd's range
	}
	tests[5].want = "2026-11-01T07:30:00Z" // 02:30 EST occurs once, after the repeated hour
	for _, tt := range tests {
		ev, err := Parse(tt.expr, tt.loc)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tt.expr, err)
		}
		got, ok := ev.Next(tt.from)
		if tt.want == "" {
			if ok {
				t.Errorf("%q.Next(%s) = %s, want none", tt.expr, tt.from, got)
			}
			continue
		}
		if !ok {
			t.Errorf("%q.Next(%s) = none, want %s", tt.expr, tt.from, tt.want)
			continue
		}
		if s := got.UTC().Format(time.RFC3339Nano); s != tt.want {
			t.Errorf("%q.Next(%s) = %s, want %s", tt.expr, tt.from, s, tt.want)
		}
		if !got.After(tt.from) {
			t.Errorf("%q.Next(%s) = %s, not after the base", tt.expr, tt.from, got)
		}
		if got.Location() != ev.Location() {
			t.Errorf("%q.Next returned zone %s, want %s", tt.expr, got.Location(), ev.Location())
		}
	}
}

func TestEvent_String_Reparses(t *testing.T) {
	for _, expr := range []string{"Mon..Fri 9:00", "*-02~03/2", "*:*:1.5", "quarterly Europe/Berlin", "@1800000000"} {
		ev, err := Parse(expr, time.UTC)
		if err != nil {
			t.Fatalf("Parse(%q): %v", expr, err)
		}
		again, err := Parse(ev.String(), time.UTC)
		if err != nil {
			t.Fatalf("Parse(%q) (normalized %q): %v", ev.String(), expr, err)
		}
		if again.String() != ev.String() {
			t.Errorf("normalized form of %q is %q, reparsed %q", expr, ev.String(), again.String())
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"daily", "Mon..Fri *-*-* 09:00", "*-*~01", "*-02~03/2", "*:0/15", "*:*:1.5 UTC",
		"2026-11-01 01:*:0/20", "Sat,Sun 10:00 Europe/Berlin", "@1800000000", "*-02-30", "Mon 2027-*-* 0..23:0,30",
		"*-*-* 02:30 America/New_York", "Mon,Tue, 12:00 EST", "*:*:0..59/0.25",
	} {
		f.Add(s)
	}
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		f.Fatalf("load zone: %v", err)
	}
	bases := []time.Time{
		time.Date(2026, 9, 21, 14, 13, 20, 0, time.UTC),
		time.Date(2026, 11, 1, 5, 50, 0, 0, time.UTC), // before New York falls back
		time.Date(2027, 3, 14, 6, 50, 0, 0, time.UTC), // before New York springs forward
	}
	f.Fuzz(func(t *testing.T, expr string) {
		for _, loc := range []*time.Location{time.UTC, ny} {
			ev, err := Parse(expr, loc)
			if err != nil {
				var fe *field.Error
				if !errors.As(err, &fe) || fe.Field != "expr" {
					t.Fatalf("Parse(%q) error %v is not a *field.Error for expr", expr, err)
				}
				continue
			}
			norm := ev.String()
			if again, err := Parse(norm, loc); err != nil {
				t.Fatalf("normalized form %q of %q does not parse: %v", norm, expr, err)
			} else if again.String() != norm {
				t.Fatalf("normalized form %q of %q reparses as %q", norm, expr, again.String())
			}
			for _, at := range bases {
				for range 4 {
					next, ok := ev.Next(at)
					if !ok {
						break
					}
					if !next.After(at) {
						t.Fatalf("%q.Next(%s) = %s, not strictly after", expr, at, next)
					}
					at = next
				}
			}
		}
	})
}

func BenchmarkNext(b *testing.B) {
	ny := mustLoad(b, "America/New_York")
	for _, bc := range []struct{ name, expr string }{
		{"every15min", "*:0/15"},
		{"weekdays", "Mon..Fri *-*-* 09:00"},
		{"lastDayOfFeb", "*-02~01 12:00"},
		{"leapDayMonday", "Mon *-02-29"},
	} {
		ev, err := Parse(bc.expr, ny)
		if err != nil {
			b.Fatalf("Parse(%q): %v", bc.expr, err)
		}
		base := time.Date(2026, 9, 21, 14, 13, 20, 0, time.UTC)
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if _, ok := ev.Next(base); !ok {
					b.Fatal("no next elapse")
				}
			}
		})
	}
}
