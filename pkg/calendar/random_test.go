package calendar

import (
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// TestRandomAgainstSystemdAnalyze compares a few thousand generated
// expressions with systemd-analyze. It is opt-in (it is a search for new
// corpus entries, not a regression test): set SZ_CALENDAR_RANDOM_SEED.
func TestRandomAgainstSystemdAnalyze(t *testing.T) {
	seedText := os.Getenv("SZ_CALENDAR_RANDOM_SEED")
	if seedText == "" {
		t.Skip("set SZ_CALENDAR_RANDOM_SEED to compare random expressions with systemd-analyze")
	}
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Skipf("systemd-analyze not on PATH: %v", err)
	}
	seed, err := strconv.ParseInt(seedText, 10, 64)
	if err != nil {
		t.Fatalf("SZ_CALENDAR_RANDOM_SEED: %v", err)
	}
	r := rand.New(rand.NewSource(seed))
	pick := func(xs ...string) string { return xs[r.Intn(len(xs))] }
	num := func(lo, hi int) string { return fmt.Sprint(lo + r.Intn(hi-lo+1)) }
	comp := func(lo, hi int) string {
		var parts []string
		for n := 1 + r.Intn(2); n > 0; n-- {
			a := lo + r.Intn(hi-lo+1)
			switch r.Intn(5) {
			case 0:
				parts = append(parts, fmt.Sprint(a))
			case 1:
				parts = append(parts, fmt.Sprintf("%d/%d", a, 1+r.Intn(hi-lo+1)))
			case 2:
				parts = append(parts, fmt.Sprintf("%d..%d", a, lo+r.Intn(hi-lo+1)))
			case 3:
				parts = append(parts, fmt.Sprintf("%d..%d/%d", a, lo+r.Intn(hi-lo+1), 1+r.Intn(5)))
			case 4:
				return "*"
			}
		}
		return strings.Join(parts, ",")
	}
	zones := []string{"UTC", "America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "Pacific/Apia", "America/Sao_Paulo"}
	bases := []int64{1790000000, 1793510000, 1793512700, 1803000000, 1806700000, 1775300000, 1540000000, 1325000000, 1300000000}
	var entries []corpusEntry
	for _, z := range zones {
		for _, b := range bases {
			for i := 0; i < 60; i++ {
				var s string
				if r.Intn(4) == 0 {
					s = pick("Mon ", "Sat,Sun ", "Mon..Fri ", "Tue..Thu,Sun ", "")
				}
				sep := pick("-", "-", "~")
				s += pick("*-", comp(1970, 2199)+"-", "") + comp(1, 12) + sep + comp(1, 31)
				s += " " + comp(0, 23) + ":" + comp(0, 59)
				if r.Intn(2) == 0 {
					s += ":" + pick(comp(0, 59), num(0, 59)+".5", "*")
				}
				if r.Intn(6) == 0 {
					s += " " + pick("UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "EST", "CET", "CEST", "EDT", "GMT")
				}
				entries = append(entries, corpusEntry{tz: z, base: b, expr: s})
			}
		}
	}
	want := runSystemdAnalyze(t, entries)
	bad := 0
	for _, e := range entries {
		got, _ := ours(e)
		if d := compare(got, want[e.key()]); d != "" {
			bad++
			if bad < 40 {
				t.Errorf("%s %d %q: %s", e.tz, e.base, e.expr, d)
			}
		}
	}
	t.Logf("%d entries, %d bad", len(entries), bad)
}
