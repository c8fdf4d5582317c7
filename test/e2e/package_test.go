package e2e

// The user's story with the Debian package, in a real systemd
// (systemd 252 as PID 1 of a systemd-nspawn container booted by
// sandbox.sh), with the commands of the README's "Install" section:
//
//  1. apt-get install ./schedulezero_<v>_amd64.deb: scheduler and governor
//     enabled and active, the CLI on PATH, man pages, the user;
//  2. systemctl start schedulezero-handler@dingaling: active, registered;
//  3. schedulezero schedule add ... --every 2s: the runs are in the
//     handler's journal and `schedulezero history` lists them succeeded;
//  4. systemctl kill -s KILL schedulezero-scheduler: systemd restarts it,
//     the schedule keeps firing, no history lost;
//  5. upgrade to a newer build: every daemon restarted on the new binary,
//     schedules, history and a locally edited conffile kept; then removal
//     (everything stopped, an enabled handler instance included; state and
//     configuration kept) and reinstallation (the instance starts again);
//  6. apt-get purge: units, state and configuration gone, nothing running;
//  7. lintian on both packages: no errors, no warnings.
//
// TestPackageReproducible builds the same version twice and compares the
// bytes.
//
// Needs root, SZ_E2E=1 (`make e2e`) and, for the first run, network for
// debootstrap. The sandbox is its own (SBX_NAME=sz-pkg, SBX_DIR=<default>-pkg)
// because its rootfs carries polkitd and man-db, as a server install does,
// so that `apt-get install ./x.deb` satisfies the Recommends offline.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	pkgSandboxName = "sz-pkg"
	pkgPoll        = 250 * time.Millisecond
	pkgCmdTimeout  = 3 * time.Minute // apt-get, a package build
	pkgWait        = 30 * time.Second
	pkgLocalEdit   = `"concurrency": 2`
	pkgConffile    = "/etc/schedulezero/handlers/dingaling.json"
	pkgHandlerUnit = "schedulezero-handler@dingaling.service"
	pkgScheduler   = "schedulezero-scheduler.service"
	pkgGovernor    = "schedulezero-governor.service"
)

// pkgEnv is the environment of sandbox.sh for this test.
func pkgEnv() []string { return sandboxEnv(pkgSandboxName, "-pkg", "polkitd,man-db") }

// pkgRepoRoot is the module root (two levels above this file).
func pkgRepoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate package_test.go")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// pkgBox is the package suite's sandbox: commands in sh.
type pkgBox struct{ *sandbox }

func newPkgBox(ctx context.Context, root string) *pkgBox {
	b := &pkgBox{newSandbox(ctx, root, pkgEnv())}
	b.poll, b.cmdTimeout = pkgPoll, pkgCmdTimeout
	return b
}

func (b *pkgBox) waitActive(t *testing.T, units ...string) {
	t.Helper()
	for _, u := range units {
		b.waitFor(t, u+" active", pkgWait, func() (bool, string) {
			s := b.prop(u, "ActiveState")
			return s == "active", s
		})
	}
}

// runningNew reports whether unit runs a process other than oldPID whose
// executable is the file installed now (an upgraded binary that still runs
// shows as "(deleted)" in /proc/PID/exe).
func (b *pkgBox) runningNew(unit, oldPID string) (bool, string) {
	p, s := b.prop(unit, "MainPID"), b.prop(unit, "ActiveState")
	state := "MainPID=" + p + " ActiveState=" + s
	if p == oldPID || p == "0" || s != "active" {
		return false, state
	}
	exe, err := b.sh("readlink /proc/" + p + "/exe")
	exe = strings.TrimSpace(exe)
	return err == nil && !strings.HasSuffix(exe, "(deleted)"), state + " exe=" + exe
}

type pkgExecution struct {
	ExecutionID string    `json:"execution_id"`
	Attempt     int       `json:"attempt_number"`
	HandlerID   string    `json:"handler_id"`
	Method      string    `json:"method_name"`
	Status      string    `json:"status"`
	StartedAt   time.Time `json:"started_at"`
}

// pkgRuns are the succeeded dingaling.quick_aling attempts, keyed by
// "execution/attempt", with their start times.
type pkgRuns map[string]time.Time

// since counts the runs started after t.
func (r pkgRuns) since(t time.Time) int {
	n := 0
	for _, s := range r {
		if s.After(t) {
			n++
		}
	}
	return n
}

// history returns the succeeded quick_aling runs as `schedulezero history`
// lists them.
func (b *pkgBox) history() (pkgRuns, error) {
	out, err := b.sh("schedulezero --json history -n 1000")
	if err != nil {
		return nil, err
	}
	var list []pkgExecution
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		return nil, fmt.Errorf("history --json: %w: %q", err, out)
	}
	runs := pkgRuns{}
	for _, e := range list {
		if e.HandlerID == "dingaling" && e.Method == "quick_aling" && e.Status == "success" {
			runs[fmt.Sprintf("%s/%d", e.ExecutionID, e.Attempt)] = e.StartedAt
		}
	}
	return runs, nil
}

// waitRuns waits until at least n succeeded runs started after t, and
// returns all the runs.
func (b *pkgBox) waitRuns(t *testing.T, after time.Time, n int) pkgRuns {
	t.Helper()
	var runs pkgRuns
	b.waitFor(t, fmt.Sprintf("%d succeeded quick_aling runs after %s in history", n, after.Format(time.TimeOnly)), pkgWait, func() (bool, string) {
		r, err := b.history()
		if err != nil {
			return false, err.Error()
		}
		runs = r
		return r.since(after) >= n, fmt.Sprintf("%d runs, %d after", len(r), r.since(after))
	})
	return runs
}

// kept fails the test when a run of before is missing from after.
func pkgKept(t *testing.T, what string, before, after pkgRuns) {
	t.Helper()
	for k := range before {
		if _, ok := after[k]; !ok {
			t.Errorf("run %s from before %s is gone from history", k, what)
		}
	}
}

// journal returns the entries of `journalctl -o json ARGS`.
func (b *pkgBox) journal(args string) ([]map[string]any, error) {
	out, err := b.sh("journalctl --no-pager -o json " + args)
	if err != nil {
		return nil, err
	}
	return parseJournal(out)
}

// pkgBuild builds the package at version into dir and returns its path.
func pkgBuild(ctx context.Context, t *testing.T, root, dir, version string) string {
	t.Helper()
	start := time.Now()
	env := append(os.Environ(), "SZ_VERSION="+version, "DIST="+dir)
	out, err := hostRun(ctx, root, env, "bash", "packaging/build-deb.sh")
	if err != nil {
		t.Fatalf("build %s: %v", version, err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	deb := lines[len(lines)-1]
	if !filepath.IsAbs(deb) {
		deb = filepath.Join(root, deb)
	}
	if _, err := os.Stat(deb); err != nil {
		t.Fatalf("build %s: %v", version, err)
	}
	t.Logf("built %s in %.1fs", filepath.Base(deb), time.Since(start).Seconds())
	return deb
}

// pkgBaseVersion is the version packaging/version.sh gives.
func pkgBaseVersion(ctx context.Context, t *testing.T, root string) string {
	t.Helper()
	v, err := hostRun(ctx, root, os.Environ(), "sh", "packaging/version.sh")
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(v)
}

func TestPackageStory(t *testing.T) {
	skipUnlessE2E(t, true)
	ctx := context.Background()
	root := pkgRepoRoot(t)
	dist := t.TempDir()
	base := pkgBaseVersion(ctx, t, root)
	newer := base + "+e2e1" // sorts after base
	oldDeb := pkgBuild(ctx, t, root, dist, base)
	newDeb := pkgBuild(ctx, t, root, dist, newer)

	b := newPkgBox(ctx, root)
	b.boot(t, nil)
	if _, err := b.sbx("put", oldDeb, newDeb); err != nil {
		t.Fatal(err)
	}
	oldIn, newIn := "/sbx/"+filepath.Base(oldDeb), "/sbx/"+filepath.Base(newDeb)

	var runs pkgRuns // what history held at the end of the last step
	story := t.Run("install", func(t *testing.T) {
		b.timed(t, "apt-get install -y "+oldIn)
		b.waitActive(t, pkgScheduler, pkgGovernor, "schedulezero.target")
		for _, u := range []string{"schedulezero.target", pkgScheduler, pkgGovernor} {
			if got := b.must(t, "systemctl is-enabled "+u); got != "enabled" {
				t.Errorf("%s: is-enabled = %q, want enabled", u, got)
			}
		}
		if got := b.must(t, "command -v schedulezero"); got != "/usr/bin/schedulezero" {
			t.Errorf("command -v schedulezero = %q, want /usr/bin/schedulezero", got)
		}
		if got := b.must(t, "schedulezero --version"); !strings.HasSuffix(got, " "+base) {
			t.Errorf("schedulezero --version = %q, want version %s", got, base)
		}
		for _, page := range []string{"1 schedulezero", "8 schedulezero-scheduler", "8 schedulezero-handler", "8 schedulezero-governor"} {
			b.must(t, "man -w "+page)
			if got := b.must(t, "man -P cat "+page+" 2>&1 | head -n 3"); !strings.Contains(got, "NAME") {
				t.Errorf("man %s does not render a NAME section:\n%s", page, got)
			}
		}
		b.must(t, "id schedulezero")
		conffiles := b.must(t, "dpkg-query -W -f '${Conffiles}' schedulezero")
		for _, f := range []string{pkgConffile, "/etc/default/schedulezero"} {
			if !strings.Contains(conffiles, f+" ") {
				t.Errorf("%s is not a conffile; conffiles:\n%s", f, conffiles)
			}
		}
		for _, f := range []string{"/usr/share/polkit-1/rules.d/schedulezero-governor.rules",
			"/usr/share/bash-completion/completions/schedulezero", "/usr/share/doc/schedulezero/copyright",
			"/usr/share/doc/schedulezero/changelog.gz", "/usr/lib/sysusers.d/schedulezero.conf",
			"/usr/lib/tmpfiles.d/schedulezero.conf", "/usr/share/doc/schedulezero/examples/prometheus-rules.yml",
			"/usr/share/doc/schedulezero/examples/grafana-dashboard.json"} {
			b.must(t, "test -f "+f)
		}
		// The CLI finds the packaged API socket without flags.
		b.must(t, "schedulezero schedule list")
	}) && t.Run("handler starts and registers", func(t *testing.T) {
		t.Logf("before systemctl start: %s is %s", pkgHandlerUnit, b.prop(pkgHandlerUnit, "ActiveState"))
		b.timed(t, "systemctl start schedulezero-handler@dingaling")
		b.waitActive(t, pkgHandlerUnit)
		b.waitFor(t, "dingaling registered", pkgWait, func() (bool, string) {
			out, err := b.sh("schedulezero --json handlers")
			if err != nil {
				return false, err.Error()
			}
			var r struct {
				Handlers []struct{ ID, Status string }
			}
			if err := json.Unmarshal([]byte(out), &r); err != nil {
				return false, out
			}
			for _, h := range r.Handlers {
				if h.ID == "dingaling" && h.Status == "online" {
					return true, ""
				}
			}
			return false, out
		})
	}) && t.Run("schedule runs on the handler", func(t *testing.T) {
		added := time.Now()
		b.must(t, "schedulezero schedule add --handler dingaling --method quick_aling --every 2s")
		runs = b.waitRuns(t, added, 3)
		// Every succeeded run is in the handler's journal, found by the
		// execution id the scheduler gave it.
		b.waitFor(t, "the runs in journalctl -u "+pkgHandlerUnit, pkgWait, func() (bool, string) {
			entries, err := b.journal("-u " + pkgHandlerUnit + " SZ_METHOD=quick_aling")
			if err != nil {
				return false, err.Error()
			}
			done := map[string]bool{}
			for _, e := range entries {
				if journalField(e, "MESSAGE") == "job finished" && journalField(e, "SZ_OK") == "true" {
					done[journalField(e, "SZ_EXECUTION_ID")+"/"+journalField(e, "SZ_ATTEMPT")] = true
				}
			}
			var missing []string
			for k := range runs {
				if !done[k] {
					missing = append(missing, k)
				}
			}
			return len(missing) == 0, fmt.Sprintf("%d journal entries; runs missing: %v", len(entries), missing)
		})
		t.Logf("journalctl -u %s (last lines):\n%s", pkgHandlerUnit,
			b.must(t, "journalctl -u "+pkgHandlerUnit+" --no-pager -n 4"))
		t.Logf("schedulezero history (last lines):\n%s", b.must(t, "schedulezero history | tail -n 3"))
	}) && t.Run("a killed scheduler is restarted", func(t *testing.T) {
		pid := b.prop(pkgScheduler, "MainPID")
		restarts, _ := strconv.Atoi(b.prop(pkgScheduler, "NRestarts"))
		b.timed(t, "systemctl kill -s KILL schedulezero-scheduler")
		b.waitFor(t, "scheduler restarted by systemd", pkgWait, func() (bool, string) {
			p, s := b.prop(pkgScheduler, "MainPID"), b.prop(pkgScheduler, "ActiveState")
			return p != pid && p != "0" && s == "active", "MainPID=" + p + " ActiveState=" + s
		})
		restarted := time.Now()
		if got, _ := strconv.Atoi(b.prop(pkgScheduler, "NRestarts")); got != restarts+1 {
			t.Errorf("NRestarts = %d, want %d (a restart by systemd)", got, restarts+1)
		}
		after := b.waitRuns(t, restarted, 2)
		pkgKept(t, "the kill", runs, after)
		runs = after
	}) && t.Run("upgrade keeps schedules, history and conffiles", func(t *testing.T) {
		b.must(t, "sed -i 's/\"concurrency\": [0-9]*/"+pkgLocalEdit+"/' "+pkgConffile)
		units := []string{pkgScheduler, pkgGovernor, pkgHandlerUnit}
		pids := map[string]string{}
		for _, u := range units {
			pids[u] = b.prop(u, "MainPID")
		}
		b.timed(t, "apt-get install -y "+newIn)
		upgraded := time.Now()
		if got := b.must(t, "dpkg-query -W -f '${Version}' schedulezero"); got != newer {
			t.Errorf("installed version %q, want %q", got, newer)
		}
		if got := b.must(t, "schedulezero --version"); !strings.HasSuffix(got, " "+newer) {
			t.Errorf("schedulezero --version = %q, want version %s", got, newer)
		}
		for _, u := range units {
			b.waitFor(t, u+" restarted on the new binary", pkgWait, func() (bool, string) {
				return b.runningNew(u, pids[u])
			})
		}
		if got := b.must(t, "cat "+pkgConffile); !strings.Contains(got, pkgLocalEdit) {
			t.Errorf("local edit of the conffile lost on upgrade:\n%s", got)
		}
		// The restarted handler runs with the edited configuration.
		pid := b.prop(pkgHandlerUnit, "MainPID")
		b.waitFor(t, "the handler listening with concurrency 2", pkgWait, func() (bool, string) {
			entries, err := b.journal("-u " + pkgHandlerUnit + " _PID=" + pid)
			if err != nil {
				return false, err.Error()
			}
			for _, e := range entries {
				if journalField(e, "MESSAGE") == "handler listening" {
					return journalField(e, "SZ_CONCURRENCY") == "2", "SZ_CONCURRENCY=" + journalField(e, "SZ_CONCURRENCY")
				}
			}
			return false, fmt.Sprintf("%d entries of PID %s, none \"handler listening\"", len(entries), pid)
		})
		if got := b.must(t, "schedulezero --json schedule list"); !strings.Contains(got, `"quick_aling"`) {
			t.Errorf("schedule lost on upgrade:\n%s", got)
		}
		after := b.waitRuns(t, upgraded, 2)
		pkgKept(t, "the upgrade", runs, after)
		runs = after
	}) && t.Run("remove and reinstall", func(t *testing.T) {
		// An instance the administrator enabled stops on removal and starts
		// again on reinstallation; state and configuration stay between.
		b.must(t, "systemctl enable schedulezero-handler@dingaling")
		b.timed(t, "apt-get remove -y schedulezero")
		if got := b.must(t, "pgrep -a '^schedulezero' || true"); got != "" {
			t.Errorf("processes left after remove:\n%s", got)
		}
		if got := b.must(t, "dpkg-query -W -f '${db:Status-Abbrev}' schedulezero"); got != "rc" {
			t.Errorf("package state after remove = %q, want rc (config files kept)", got)
		}
		for _, f := range []string{"/var/lib/schedulezero/schedulezero.db", pkgConffile} {
			b.must(t, "test -f "+f)
		}
		b.timed(t, "apt-get install -y "+newIn)
		reinstalled := time.Now()
		b.waitActive(t, pkgScheduler, pkgGovernor, pkgHandlerUnit)
		after := b.waitRuns(t, reinstalled, 2)
		pkgKept(t, "the removal", runs, after)
		runs = after
	})

	if !story {
		// What the units did, for the failed step, before purge removes it.
		out, _ := b.sh("systemctl list-units --all --no-pager 'schedulezero*'; " +
			"journalctl --no-pager -o short-precise -u 'schedulezero*' | tail -n 150")
		t.Logf("the story stopped; units and journal:\n%s", out)
	}

	// Purge and lintian are proven whatever happened to the story above.
	t.Run("purge", func(t *testing.T) {
		if _, err := b.sh("dpkg-query -W -f '${db:Status-Abbrev}' schedulezero | grep -q ii"); err != nil {
			b.timed(t, "apt-get install -y "+newIn) // the story stopped before installing
		}
		b.timed(t, "apt-get purge -y schedulezero")
		if got := b.must(t, "systemctl list-units --all --no-legend --plain 'schedulezero*' | grep -v not-found || true"); got != "" {
			t.Errorf("units still loaded after purge:\n%s", got)
		}
		if got := b.must(t, "systemctl list-unit-files --no-legend 'schedulezero*' || true"); got != "" {
			t.Errorf("unit files left after purge:\n%s", got)
		}
		if got := b.must(t, "find /etc/systemd/system /var/lib/systemd/deb-systemd-helper-enabled /var/lib/systemd/deb-systemd-helper-masked -name '*schedulezero*' 2>/dev/null || true"); got != "" {
			t.Errorf("enable links or helper state left after purge:\n%s", got)
		}
		for _, p := range []string{"/var/lib/schedulezero", "/etc/schedulezero", "/etc/default/schedulezero",
			"/run/schedulezero", "/usr/bin/schedulezero", "/usr/lib/systemd/system/schedulezero-scheduler.service"} {
			if _, err := b.sh("test ! -e " + p); err != nil {
				t.Errorf("%s left after purge", p)
			}
		}
		if got := b.must(t, "pgrep -a '^schedulezero' || true"); got != "" {
			t.Errorf("processes left after purge:\n%s", got)
		}
		// Purged: dpkg has forgotten the package or knows it as not installed.
		if got, _ := b.sh("dpkg-query -W -f '${db:Status-Abbrev}' schedulezero 2>/dev/null"); len(got) > 1 && got[1] != 'n' {
			t.Errorf("dpkg status after purge = %q, want not installed", got)
		}
	})

	t.Run("lintian", func(t *testing.T) {
		if _, err := exec.LookPath("lintian"); err != nil {
			t.Skip("lintian is not installed on this host (apt-get install lintian)")
		}
		for _, deb := range []string{oldDeb, newDeb} {
			out, err := hostRun(ctx, root, os.Environ(), "lintian", "--fail-on", "error,warning", "--info", "--pedantic", deb)
			if err != nil {
				t.Errorf("lintian %s: %v", filepath.Base(deb), err)
			}
			t.Logf("lintian %s: %d lines of output\n%s", filepath.Base(deb), strings.Count(out, "\n"), out)
		}
	})
	if !story {
		t.Log("the story stopped at the first failed step; purge and lintian ran anyway")
	}
}

// timed runs a command line inside, fails the test on error and logs how
// long it took.
func (b *pkgBox) timed(t *testing.T, line string) string {
	t.Helper()
	start := time.Now()
	out := b.must(t, line)
	t.Logf("%s: %.1fs", line, time.Since(start).Seconds())
	return out
}

// TestPackageReproducible builds the same version twice, in different
// directories, and wants the same bytes.
func TestPackageReproducible(t *testing.T) {
	skipUnlessE2E(t, false)
	ctx := context.Background()
	root := pkgRepoRoot(t)
	base := pkgBaseVersion(ctx, t, root)
	var sums [2]string
	for i := range sums {
		deb := pkgBuild(ctx, t, root, filepath.Join(t.TempDir(), fmt.Sprint("dist", i)), base)
		b, err := os.ReadFile(deb)
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.Sum256(b)
		sums[i] = hex.EncodeToString(h[:])
		t.Logf("build %d: sha256 %s  %s (%d bytes)", i+1, sums[i], filepath.Base(deb), len(b))
	}
	if sums[0] != sums[1] {
		t.Errorf("two builds of %s differ: %s != %s", base, sums[0], sums[1])
	}
}
