package main

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestCalendar runs the calendar command offline with a pinned clock
// (2026-01-02 03:04:05 UTC, a Friday) and compares with golden files that
// follow systemd-analyze calendar's layout.
func TestCalendar(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
	}{
		{"calendar", []string{"calendar", "Mon..Fri 09:00"}, 0},
		{"calendar_n", []string{"calendar", "-n", "4", "--tz", "Europe/Berlin", "*-*-* 00/15:00"}, 0},
		{"calendar_two", []string{"calendar", "--iterations", "2", "daily", "*-*~01"}, 0},
		{"calendar_zone_suffix", []string{"calendar", "-n", "2", "--tz", "America/New_York", "Mon..Fri 09:00 Europe/Berlin"}, 0},
		{"calendar_dst", []string{"calendar", "-n", "3", "--tz", "America/New_York", "*-03-14 02:30"}, 0},
		{"calendar_dst_systemd", []string{"calendar", "--systemd", "-n", "3", "--tz", "America/New_York", "*-03-14 02:30"}, 0},
		{"calendar_cron", []string{"calendar", "--cron", "-n", "3", "0 9 * * 1-5"}, 0},
		{"calendar_utc_alias", []string{"calendar", "--tz", "Etc/UTC", "Mon..Fri 09:00"}, 0},
		{"calendar_london", []string{"calendar", "--tz", "Europe/London", "*-01-05 09:00"}, 0},
		{"calendar_cron_tz", []string{"calendar", "--cron", "-n", "2", "--tz", "America/New_York", "CRON_TZ=Europe/Berlin 30 2 * * *"}, 0},
		{"calendar_cron_every", []string{"calendar", "--cron", "-n", "3", "@every 90m"}, 0},
		{"calendar_past_date", []string{"calendar", "2020-01-01 00:00"}, 0},
		{"calendar_json", []string{"--json", "calendar", "-n", "2", "hourly"}, 0},
		{"calendar_bad", []string{"calendar", "bogus"}, exitUsage},
		{"calendar_bad_cron", []string{"calendar", "--cron", "61 * * * *"}, exitUsage},
		{"calendar_bad_tz", []string{"calendar", "--tz", "Mars/Olympus", "daily"}, exitUsage},
		{"calendar_bad_n", []string{"calendar", "-n", "0", "daily"}, exitUsage},
		{"calendar_no_expr", []string{"calendar"}, exitUsage},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			var out, errb syncBuffer
			app := newApp(&out, &errb)
			app.Metadata[clockKey] = testClock
			// No --api: the command must not need a scheduler.
			code := executeApp(ctx, app, append([]string{"schedulezero"}, tc.args...), &errb)
			if code != tc.code {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, out.String(), errb.String())
			}
			golden(t, tc.name, tc.args, out.String(), errb.String(), code)
		})
	}
}

func TestRelative(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "now"},
		{500 * time.Microsecond, "500us left"},
		{20 * time.Millisecond, "20ms left"},
		{42 * time.Second, "42s left"},
		{90 * time.Second, "1min 30s left"},
		{10 * time.Minute, "10min left"},
		{2*time.Hour + 50*time.Minute, "2h 50min left"},
		{17 * time.Hour, "17h left"},
		{35 * time.Hour, "1 day 11h left"},
		{3 * 24 * time.Hour, "3 days left"},
		{8 * 24 * time.Hour, "1 week 1 day left"},
		{40 * 24 * time.Hour, "1 month 9 days left"},
		{400 * 24 * time.Hour, "1 year 1 month left"},
		{-3 * time.Hour, "3h 0min ago"},
	}
	for _, tc := range tests {
		if got := relative(tc.d); got != tc.want {
			t.Errorf("relative(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

// TestCalendar_MatchesSystemdAnalyze compares every line but "From now"
// with systemd-analyze calendar, when it is installed.
func TestCalendar_MatchesSystemdAnalyze(t *testing.T) {
	bin, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed")
	}
	exprs := []string{"Mon..Fri 09:00", "*-*-* 00/15:00", "*-*~01", "daily", "*-03-14 02:30", "Sat *-*-1..7 18:00", "quarterly", "*-11-02 01:30"}
	zones := []string{"UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe"}
	strip := func(out string) string {
		var keep []string
		for _, l := range strings.Split(out, "\n") {
			if !strings.Contains(l, "From now:") {
				keep = append(keep, l)
			}
		}
		return strings.Join(keep, "\n")
	}
	compared := 0
	for _, zone := range zones {
		loc, err := time.LoadLocation(zone)
		if err != nil {
			t.Fatal(err)
		}
		for _, expr := range exprs {
			ours := func() string {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				var out, errb syncBuffer
				app := newApp(&out, &errb)
				app.Metadata[clockKey] = clock{now: time.Now, loc: loc}
				if code := executeApp(ctx, app, []string{"schedulezero", "calendar", "--systemd", "-n", "5", expr}, &errb); code != 0 {
					t.Fatalf("%s in %s: exit %d: %s", expr, zone, code, errb.String())
				}
				return strip(out.String())
			}
			theirs := func() string {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				cmd := exec.CommandContext(ctx, bin, "calendar", "--iterations=5", expr)
				cmd.Env = []string{"TZ=" + zone, "LC_ALL=C"}
				out, err := cmd.Output()
				if err != nil {
					t.Fatalf("systemd-analyze calendar %q: %v", expr, err)
				}
				return strip(string(out))
			}
			// An occurrence may pass between the two runs: one retry.
			a, b := ours(), theirs()
			if a != b {
				a, b = ours(), theirs()
			}
			if a != b {
				t.Errorf("%q in %s:\n--- ours\n%s\n--- systemd-analyze\n%s", expr, zone, a, b)
			}
			compared++
		}
	}
	t.Logf("compared %d expression/zone pairs with %s", compared, bin)
}
