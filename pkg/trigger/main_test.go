package trigger

import (
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// mustZone loads an IANA zone from the system database.
func mustZone(tb testing.TB, name string) *time.Location {
	tb.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		tb.Fatalf("load zone %s: %v", name, err)
	}
	return loc
}

func mustTime(tb testing.TB, s string) time.Time {
	tb.Helper()
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		tb.Fatalf("parse %q: %v", s, err)
	}
	return t
}

// nextN returns up to n successive fire times after from.
func nextN(trig Trigger, from time.Time, n int) []time.Time {
	var out []time.Time
	for range n {
		next, ok := trig.Next(from)
		if !ok {
			break
		}
		out = append(out, next)
		from = next
	}
	return out
}
