package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestNumber(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want float64
		unit string
		ok   bool
	}{
		{"28710", 28710, "", true},
		{"1,234", 1234, "", true},
		{"233µs", 0.233, "ms", true},
		{"1.5s", 1500, "ms", true},
		{"221.5 MB (anon 106.9, binary 8.8, store 105.7)", 221.5, "MB", true},
		{"21.7 µs", 21.7, "µs", true},
		{"n/a", 0, "", false},
		{"error: timed out", 0, "", false},
	} {
		got, unit, ok := number(tc.in)
		if ok != tc.ok || (ok && (got != tc.want || unit != tc.unit)) {
			t.Errorf("number(%q) = %v %q %v, want %v %q %v", tc.in, got, unit, ok, tc.want, tc.unit, tc.ok)
		}
	}
}

// TestReadRuns reads two tables whose sampled counts differ into one
// metric, keeping the indentation that nests a row under its phase.
func TestReadRuns(t *testing.T) {
	dir := t.TempDir()
	tables := []string{
		"ScheduleZero bench on vm\n\nmetric  measured  target\nfire lateness p50, 10,000 schedules (10001 fires sampled)  233µs  \n  scheduler peak RSS  19.7 MB (anon 9.1)  < 20 MB\n",
		"ScheduleZero bench on vm\n\nmetric  measured  target\nfire lateness p50, 10,000 schedules (9999 fires sampled)  1.5ms  \n  scheduler peak RSS  18.3 MB (anon 7.3)  < 20 MB\n",
	}
	for i, tab := range tables {
		if err := os.WriteFile(filepath.Join(dir, "a."+string(rune('1'+i))), []byte(tab), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	r, err := readRuns(filepath.Join(dir, "a.*"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"fire lateness p50, 10,000 schedules", "  scheduler peak RSS"}
	if strings.Join(r.order, "|") != strings.Join(want, "|") {
		t.Fatalf("metrics %q, want %q", r.order, want)
	}
	if v := r.values[want[0]]; len(v) != 2 || v[0] != 0.233 || v[1] != 1.5 {
		t.Errorf("lateness values %v, want [0.233 1.5]", v)
	}
	if m := median(r.values[want[1]]); m != 19 {
		t.Errorf("median RSS %v, want 19", m)
	}
}
