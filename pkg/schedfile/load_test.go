package schedfile

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/store"
)

// write creates the files of a tree: path -> content ("->target" makes a
// symlink).
func write(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for p, c := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if target, ok := strings.CutPrefix(c, "->"); ok {
			if err := os.Symlink(target, full); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

const pkgBackup = `# shipped by a package
[Schedule]
Description=Nightly backup
Handler=backup
Method=run
OnCalendar=*-*-* 02:00
Persistent=true
RetryOn=error
RetryOn=timeout
Params={"target": "nas"}
`

// The search path and the drop-ins merge as systemd's units do: /etc
// hides /usr/lib, drop-ins apply in the lexical order of their names
// whichever directory holds them, a drop-in of one name in /etc hides
// that of /usr/lib, an empty trigger or list assignment resets it, and an
// empty file or a symlink to /dev/null masks.
func TestLoad_Precedence(t *testing.T) {
	root := t.TempDir()
	etc, lib := filepath.Join(root, "etc"), filepath.Join(root, "lib")
	write(t, root, map[string]string{
		"lib/backup.schedule":             pkgBackup,
		"lib/backup.schedule.d/10-a.conf": "[Schedule]\nTimeout=1h\nOverlap=queue\n",
		"lib/backup.schedule.d/20-b.conf": "[Schedule]\nOverlap=allow\n",
		"etc/backup.schedule.d/20-b.conf": "[Schedule]\nOnCalendar=\nOnCalendar=*-*-* 03:30\nRetryOn=\nRetryOn=unavailable\n",
		"etc/backup.schedule.d/30-c.conf": "[Schedule]\nRandomizedDelaySec=10min\nRetries=4\n",
		"lib/report.schedule":             "[Schedule]\nHandler=h\nMethod=m\nOnUnitActiveSec=5min\n",
		"etc/report.schedule":             "[Schedule]\nHandler=h2\nMethod=m\nCron=0 9 * * mon-fri\n",
		"lib/gone.schedule":               "[Schedule]\nHandler=h\nMethod=m\nOnCalendar=daily\n",
		"etc/gone.schedule":               "->/dev/null",
		"lib/empty.schedule":              "",
	})
	set, err := Load([]string{etc, lib})
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Invalid) != 0 {
		t.Fatalf("invalid: %v", set.Errors())
	}
	if len(set.Definitions) != 2 {
		t.Fatalf("definitions %d, want backup and report", len(set.Definitions))
	}
	b := set.Definitions[0]
	if b.ID != "backup" || b.Path != filepath.Join(lib, "backup.schedule") || len(b.DropIns) != 3 {
		t.Fatalf("backup: %+v", b)
	}
	if string(b.Trigger) != `{"expr":"*-*-* 03:30","type":"calendar"}` {
		t.Errorf("trigger %s", b.Trigger)
	}
	want := store.Policy{Misfire: store.MisfireOnce, Overlap: store.OverlapQueue, // /etc's 20-b.conf hides the Overlap=allow of /usr/lib's
		RandomDelay: 10 * time.Minute,
		RetryOn:     []string{store.RetryOnUnavailable}}
	if !samePolicy(b.Policy, want) || b.Timeout != time.Hour || b.MaxAttempts != 5 {
		t.Errorf("policy %+v timeout %v attempts %d", b.Policy, b.Timeout, b.MaxAttempts)
	}
	if r := set.Definitions[1]; r.HandlerID != "h2" || string(r.Trigger) != `{"expr":"0 9 * * mon-fri","type":"cron"}` {
		t.Errorf("report: /etc does not hide /usr/lib: %+v", r)
	}
}

// A bad file is reported at its line, with the key and the fix; the
// other files load.
func TestLoad_Errors(t *testing.T) {
	tests := []struct {
		name, file, want string
	}{
		{"unknown key", "[Schedule]\nHandler=h\nMethod=m\n\nOnCalender=daily\n", "x.schedule:5: OnCalender=: is not a schedule key (did you mean OnCalendar=?"},
		{"bad calendar", "[Schedule]\nHandler=h\nMethod=m\n# comment\nOnCalendar=*-*-* 25:00\n", "x.schedule:5: OnCalendar=: "},
		{"bad span", "[Schedule]\nHandler=h\nMethod=m\nOnCalendar=daily\nTimeout=soon\n", "x.schedule:5: Timeout=: \"soon\" is not a time span"},
		{"no handler", "[Schedule]\nMethod=m\nOnCalendar=daily\n", "x.schedule: Handler=: is required"},
		{"no trigger", "[Schedule]\nHandler=h\nMethod=m\n", "x.schedule: has no trigger"},
		{"two triggers", "[Schedule]\nHandler=h\nMethod=m\nOnCalendar=daily\nCron=* * * * *\n", "x.schedule:5: Cron=: is a second trigger"},
		{"bad policy", "[Schedule]\nHandler=h\nMethod=m\nOnCalendar=daily\nOverlap=sometimes\n", "x.schedule:5: Overlap=: \"sometimes\" is not a policy (use one of"},
		{"bad params", "[Schedule]\nHandler=h\nMethod=m\nOnCalendar=daily\nParams=[1]\n", "x.schedule:5: Params=: is not a JSON object"},
		{"continued line", "[Schedule]\nHandler=h\nDescription=a \\\n  b\nMethod=m\nOnCalendar=daily\nRetries=x\n", "x.schedule:7: Retries=:"},
		{"wrong section", "[Timer]\nOnCalendar=daily\n", "x.schedule:2: OnCalendar=: is in section [Timer]"},
		{"no equals", "[Schedule]\nHandler\n", "x.schedule:2: "},
		{"bad target", "[Schedule]\nHandler=h\nMethod=m\nOnCalendar=daily\nOnFailure=mailto:me\n", "x.schedule:5: OnFailure=: \"mailto:me\" is not a notification target"},
		{"on without value", "[Schedule]\nHandler=h\nMethod=m\nOnCalendar=daily\nOn=zone=b\nOn=gpu\n", "x.schedule:6: On=: \"gpu\" is not KEY=VALUE"},
		{"on bad label", "[Schedule]\nHandler=h\nMethod=m\nOnCalendar=daily\nOn=zone=b!\n", "x.schedule:5: On=: label zone value \"b!\" holds '!'"},
		{"on too many", "[Schedule]\nHandler=h\nMethod=m\nOnCalendar=daily\nOn=" + manyLabels(17) + "\n", "x.schedule:5: On=: has 17 constraints"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, dir, map[string]string{"x.schedule": tt.file, "ok.schedule": "[Schedule]\nHandler=h\nMethod=m\nOnCalendar=daily\n"})
			set, err := Load([]string{dir})
			if err != nil {
				t.Fatal(err)
			}
			if len(set.Definitions) != 1 || set.Definitions[0].ID != "ok" {
				t.Errorf("the good file did not load: %+v", set.Definitions)
			}
			e := set.Invalid["x"]
			if e == nil {
				t.Fatal("no error")
			}
			if got := e.Short(); !strings.HasPrefix(got, tt.want) {
				t.Fatalf("error %q\nwant prefix %q", got, tt.want)
			}
		})
	}
}

func TestSpan_RoundTrip(t *testing.T) {
	for _, s := range []string{"90", "1h 30min", "1.5s", "500ms", "2d", "1w", "5m", "1h30m"} {
		d, err := ParseSpan(s)
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		back, err := ParseSpan(formatSpan(d))
		if err != nil || back != d {
			t.Errorf("%q = %v; formatted %q reads %v, %v", s, d, formatSpan(d), back, err)
		}
	}
	if _, err := ParseSpan("-1s"); err == nil {
		t.Error("a negative span parsed")
	}
}

// A file's name must make a schedule id under the engine's rule.
func TestLoad_BadID(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, map[string]string{"no spaces.schedule": "[Schedule]\nHandler=h\nMethod=m\nOnCalendar=daily\n"})
	set, err := Load([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	e := set.Invalid["no spaces"]
	if e == nil || !strings.Contains(e.Error(), `has the character ' '`) || e.Fix != "rename the file" {
		t.Fatalf("error %v", e)
	}
}

func manyLabels(n int) string {
	l := make([]string, n)
	for i := range l {
		l[i] = fmt.Sprintf("k%d=v", i)
	}
	return strings.Join(l, " ")
}

// On= is a list key, as the CLI's repeated --on: assignments accumulate,
// several constraints may share a line, and an empty one resets them (a
// drop-in replaces the file's).
func TestLoad_On(t *testing.T) {
	root := t.TempDir()
	write(t, root, map[string]string{
		"pinned.schedule":          "[Schedule]\nHandler=h\nMethod=m\nOnCalendar=daily\nOn=zone=b\nOn=gpu=yes disk=ssd\n",
		"moved.schedule":           "[Schedule]\nHandler=h\nMethod=m\nOnCalendar=daily\nOn=zone=a\n",
		"moved.schedule.d/10.conf": "[Schedule]\nOn=\nOn=zone=c\n",
		"free.schedule.d/10.conf":  "",
		"free.schedule":            "[Schedule]\nHandler=h\nMethod=m\nOnCalendar=daily\nOn=zone=a\nOn=\n",
	})
	set, err := Load([]string{root})
	if err != nil || len(set.Invalid) != 0 {
		t.Fatalf("%v %v", err, set.Errors())
	}
	want := map[string][]string{"pinned": {"zone=b", "gpu=yes", "disk=ssd"}, "moved": {"zone=c"}, "free": nil}
	for _, d := range set.Definitions {
		if fmt.Sprint(d.Policy.On) != fmt.Sprint(want[d.ID]) {
			t.Errorf("%s: On %q, want %q", d.ID, d.Policy.On, want[d.ID])
		}
	}
	if len(set.Definitions) != 3 {
		t.Fatalf("%d definitions, want 3", len(set.Definitions))
	}
}
