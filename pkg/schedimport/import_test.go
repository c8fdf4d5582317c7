package schedimport

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/schedfile"
	"github.com/schedulezero/schedulezero/pkg/trigger"
)

// loadBack reads the files an import wrote with the schedule file reader,
// so that what is checked is what the scheduler would apply.
func loadBack(t *testing.T, r *Result) map[string]*schedfile.Definition {
	t.Helper()
	dir := t.TempDir()
	for _, j := range r.Jobs {
		if err := os.WriteFile(filepath.Join(dir, j.Schedule.ID+schedfile.Suffix), j.File, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	set, err := schedfile.Load([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Invalid) > 0 {
		t.Fatalf("imported files do not load: %v", set.Errors())
	}
	out := map[string]*schedfile.Definition{}
	for _, d := range set.Definitions {
		out[d.ID] = d
	}
	return out
}

// next lists the first n fires of a definition after from.
func next(t *testing.T, d *schedfile.Definition, from time.Time, n int) []time.Time {
	t.Helper()
	loc := time.UTC
	if d.Timezone != "" {
		loc, _ = time.LoadLocation(d.Timezone)
	}
	trig, _, err := trigger.Parse(d.Trigger, from, loc)
	if err != nil {
		t.Fatalf("%s: %v", d.ID, err)
	}
	var out []time.Time
	for at := from; len(out) < n; {
		x, ok := trig.Next(at)
		if !ok {
			break
		}
		out = append(out, x)
		at = x
	}
	return out
}

// cronMatch is an independent reading of a crontab line's five fields
// (crontab(5)): does minute m of wall time w match? Day of month and day
// of week are ORed when both are restricted.
func cronMatch(fields []string, w time.Time) (dayOK, minuteOK bool) {
	names := map[string]int{"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7, "aug": 8, "sep": 9,
		"oct": 10, "nov": 11, "dec": 12, "sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}
	val := func(s string) int {
		if n, ok := names[strings.ToLower(s)]; ok {
			return n
		}
		n, _ := strconv.Atoi(s)
		return n
	}
	match := func(f string, v, lo, hi int) bool {
		for _, part := range strings.Split(f, ",") {
			rng, stepS, hasStep := strings.Cut(part, "/")
			step := 1
			if hasStep {
				step, _ = strconv.Atoi(stepS)
			}
			a, b := lo, hi
			if rng != "*" {
				x, y, isRange := strings.Cut(rng, "-")
				a = val(x)
				b = a
				if isRange {
					b = val(y)
				} else if hasStep {
					b = hi
				}
			}
			if v >= a && v <= b && (v-a)%step == 0 {
				return true
			}
		}
		return false
	}
	dow := int(w.Weekday())
	domOK := match(fields[2], w.Day(), 1, 31)
	dowOK := match(fields[4], dow, 0, 7) || (dow == 0 && match(fields[4], 7, 0, 7))
	day := domOK && dowOK
	if fields[2] != "*" && fields[4] != "*" {
		day = domOK || dowOK
	}
	dayOK = match(fields[3], int(w.Month()), 1, 12) && day
	return dayOK, dayOK && w.Second() == 0 && match(fields[0], w.Minute(), 0, 59) && match(fields[1], w.Hour(), 0, 23)
}

var nicknames = map[string]string{"@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
	"@weekly": "0 0 * * 0", "@monthly": "0 0 1 * *", "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *"}

// Real crontabs: every job line converts, and fires at the minutes cron
// would run it; @reboot, MAILTO and a % in a command are reported with
// their lines.
func TestCrontab(t *testing.T) {
	tests := []struct {
		file     string
		system   bool
		jobs     int
		problems []string // "line: prefix of the reason"
		shell    string
		env      map[string]string
	}{
		{"debian-etc-crontab", true, 4, nil, "/bin/sh", map[string]string{"PATH": "/usr/local/sbin:/usr/local/bin:/sbin:/bin:/usr/sbin:/usr/bin"}},
		{"user-mailto", false, 7, []string{"2: cron mails", "14: @reboot", "15: % in a cron command"}, "/bin/sh",
			map[string]string{"PATH": "/usr/local/bin:/usr/bin:/bin", "BACKUP_TARGET": "/srv/backup"}},
		{"user-cron-tz", false, 6, nil, "/bin/bash", nil},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join("testdata", "crontabs", tt.file)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			r, err := Crontab(path, data, Options{System: tt.system, Prefix: "cron"})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range r.Problems {
				if !p.Note {
					got = append(got, fmt.Sprintf("%d: %s", p.Line, p.Reason))
				}
			}
			if len(got) != len(tt.problems) {
				t.Fatalf("problems %q, want %q", got, tt.problems)
			}
			for i, want := range tt.problems {
				if !strings.HasPrefix(got[i], want) {
					t.Errorf("problem %q, want %q", got[i], want)
				}
			}
			if len(r.Jobs) != tt.jobs {
				t.Fatalf("%d jobs, want %d", len(r.Jobs), tt.jobs)
			}
			defs := loadBack(t, r)
			lines := strings.Split(string(data), "\n")
			from := time.Date(2027, 1, 30, 22, 7, 0, 0, time.UTC)
			for _, j := range r.Jobs {
				d := defs[j.Schedule.ID]
				n, _ := strconv.Atoi(strings.TrimPrefix(j.Schedule.ID, "cron-"))
				line := strings.Fields(lines[n-1])
				var spec []string
				if s, ok := nicknames[line[0]]; ok {
					spec = strings.Fields(s)
				} else {
					spec = line[:5]
				}
				if j.Command.Command[0] != tt.shell || j.Command.Command[1] != "-c" || !strings.HasSuffix(lines[n-1], j.Command.Command[2]) {
					t.Errorf("line %d: command %q", n, j.Command.Command)
				}
				if tt.env != nil && !equalMap(j.Command.Env, tt.env) {
					t.Errorf("line %d: env %v, want %v", n, j.Command.Env, tt.env)
				}
				if d.Policy.Misfire != "skip" {
					t.Errorf("line %d: misfire %q; cron does not catch up", n, d.Policy.Misfire)
				}
				loc := time.UTC
				if d.Timezone != "" {
					loc, _ = time.LoadLocation(d.Timezone)
				}
				// Every minute that cron would run it, walked one by
				// one on the days it runs, against the schedule's fires.
				fires := next(t, d, from, 12)
				var want []time.Time
				for m := from.Add(time.Minute).In(loc); len(want) < len(fires) && m.Before(from.AddDate(60, 0, 0)); {
					dayOK, minuteOK := cronMatch(spec, m)
					switch {
					case minuteOK:
						want = append(want, m)
					case !dayOK:
						y, mo, dd := m.Date()
						m = time.Date(y, mo, dd+1, 0, 0, 0, 0, loc)
						continue
					}
					m = m.Add(time.Minute)
				}
				if !slices.EqualFunc(fires, want, time.Time.Equal) {
					t.Errorf("line %d %q (zone %q): fires %v\ncron runs it at %v", n, lines[n-1], d.Timezone, fires[:min(5, len(fires))], want[:min(5, len(want))])
				}
			}
		})
	}
}

func equalMap(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// Timers shipped by Debian packages convert with their service's command,
// and fire when systemd would (systemd-analyze calendar, when present).
func TestTimer(t *testing.T) {
	tests := []struct {
		name    string
		command []string
		misfire string
		delay   time.Duration
		grace   time.Duration
	}{
		{"apt-daily", []string{"/bin/sh", "-c", "set -e; /usr/lib/apt/apt-helper wait-online || true; /usr/lib/apt/apt.systemd.daily update"}, "once", 12 * time.Hour, 0},
		{"apt-daily-upgrade", []string{"/bin/sh", "-c", "set -e; /usr/lib/apt/apt-helper wait-online || true; /usr/lib/apt/apt.systemd.daily install"}, "once", time.Hour, 0},
		{"fstrim", []string{"/sbin/fstrim", "--listed-in", "/etc/fstab:/proc/self/mountinfo", "--verbose", "--quiet-unsupported"}, "once", 6000 * time.Second, time.Hour},
		{"logrotate", []string{"/usr/sbin/logrotate", "/etc/logrotate.conf"}, "once", 0, time.Hour},
		{"man-db", []string{"/bin/sh", "-c", "set -e; /usr/bin/install -d -o man -g man -m 0755 /var/cache/man; /usr/bin/find /var/cache/man -type f -name '*.gz' -atime +6 -delete; /usr/bin/mandb --quiet"}, "once", 12 * time.Hour, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join("testdata", "timers")
			timer, err := os.ReadFile(filepath.Join(dir, tt.name+".timer"))
			if err != nil {
				t.Fatal(err)
			}
			service, err := os.ReadFile(filepath.Join(dir, tt.name+".service"))
			if err != nil {
				t.Fatal(err)
			}
			r, err := Timer(tt.name+".timer", timer, service, tt.name+".service", Options{})
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range r.Problems {
				if !p.Note {
					t.Errorf("not converted: %s", p)
				}
			}
			if len(r.Jobs) != 1 {
				t.Fatalf("%d jobs, want 1", len(r.Jobs))
			}
			j := r.Jobs[0]
			if !slices.Equal(j.Command.Command, tt.command) {
				t.Errorf("command\n%q\nwant\n%q", j.Command.Command, tt.command)
			}
			d := loadBack(t, r)[tt.name]
			if d.Policy.Misfire != tt.misfire || d.Policy.RandomDelay != tt.delay || d.Policy.GraceTime != tt.grace {
				t.Errorf("policy %+v", d.Policy)
			}
			var obj struct{ Expr string }
			if err := json.Unmarshal(d.Trigger, &obj); err != nil {
				t.Fatal(err)
			}
			base := time.Date(2026, 12, 31, 13, 17, 0, 0, time.UTC)
			got := next(t, d, base, 5)
			want, ok := systemdElapses(t, obj.Expr, base, 5)
			if !ok {
				return
			}
			if !slices.EqualFunc(got, want, time.Time.Equal) {
				t.Errorf("OnCalendar=%s fires %v\nsystemd: %v", obj.Expr, got, want)
			}
		})
	}
}

// systemdElapses asks systemd-analyze calendar for the next n elapses of
// expr after base, in UTC; false when the tool is missing.
func systemdElapses(t *testing.T, expr string, base time.Time, n int) ([]time.Time, bool) {
	t.Helper()
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Logf("systemd-analyze not on PATH (%v): fires not compared with systemd", err)
		return nil, false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "systemd-analyze", "calendar", "--no-pager",
		fmt.Sprintf("--base-time=@%d", base.Unix()), fmt.Sprintf("--iterations=%d", n), expr)
	cmd.Env = append(os.Environ(), "TZ=UTC", "SYSTEMD_COLORS=0", "LC_ALL=C")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("systemd-analyze calendar %q: %v", expr, err)
	}
	var got []time.Time
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(l, "Next elapse:") && !strings.HasPrefix(l, "Iter. #") {
			continue
		}
		_, v, _ := strings.Cut(l, ": ")
		f := strings.Fields(v) // "Thu 2026-12-31 18:00:00 UTC"
		if len(f) < 3 {
			t.Fatalf("systemd-analyze: %q", l)
		}
		at, err := time.ParseInLocation("2006-01-02 15:04:05", f[1]+" "+f[2], time.UTC)
		if err != nil {
			t.Fatalf("systemd-analyze: %q: %v", l, err)
		}
		got = append(got, at)
	}
	if len(got) != n {
		t.Fatalf("systemd-analyze printed %d elapses:\n%s", len(got), out)
	}
	return got, true
}
