package e2e

// The user's story with the Debian package, in a real systemd (a
// systemd-nspawn container booted by sandbox.sh): install, start a handler,
// add a schedule, survive a SIGKILL of the scheduler, upgrade, purge, and
// lintian. The commands are those of the README's "Install" section.
//
// Needs root, network for the first debootstrap, and SZ_E2E=1 (`make e2e`).
// The sandbox is its own (SBX_NAME=sz-pkg, SBX_DIR=<default>-pkg) because its
// rootfs carries polkitd and man-db, as a desktop or server install does, so
// that `apt-get install ./x.deb` can satisfy the Recommends offline.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
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
)

// pkgEnv is the environment of sandbox.sh for this test.
func pkgEnv() []string {
	dir := os.Getenv("SBX_DIR")
	if dir == "" {
		dir = "/var/tmp/schedulezero-e2e"
	}
	return append(os.Environ(),
		"SBX_NAME="+pkgSandboxName,
		"SBX_DIR="+dir+"-pkg",
		"SBX_EXTRA_PACKAGES=polkitd,man-db",
	)
}

// pkgRepoRoot is the module root (two levels above this file).
func pkgRepoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate package_test.go")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// pkgRun runs a host command with a deadline and returns its combined output.
func pkgRun(ctx context.Context, dir string, env []string, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, pkgCmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir, cmd.Env = dir, env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, out.String())
	}
	return out.String(), nil
}

// pkgBox drives the container.
type pkgBox struct {
	script string
	root   string
}

func (b *pkgBox) sbx(ctx context.Context, args ...string) (string, error) {
	return pkgRun(ctx, b.root, pkgEnv(), "bash", append([]string{b.script}, args...)...)
}

// sh runs a shell command line inside the container.
func (b *pkgBox) sh(ctx context.Context, line string) (string, error) {
	return b.sbx(ctx, "exec", "sh", "-c", line)
}

// must runs a command line inside and fails the test on error.
func (b *pkgBox) must(ctx context.Context, t *testing.T, line string) string {
	t.Helper()
	out, err := b.sh(ctx, line)
	if err != nil {
		t.Fatalf("in the sandbox: %v", err)
	}
	return strings.TrimSpace(out)
}

// waitFor polls cond until it holds or the deadline passes; cond returns a
// description of the state for the failure message.
func (b *pkgBox) waitFor(ctx context.Context, t *testing.T, what string, d time.Duration, cond func() (bool, string)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	tick := time.NewTicker(pkgPoll)
	defer tick.Stop()
	for {
		ok, state := cond()
		if ok {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: not within %v; last state: %s", what, d, state)
		case <-tick.C:
		}
	}
}

// prop returns one systemctl show property of unit.
func (b *pkgBox) prop(ctx context.Context, unit, name string) string {
	out, _ := b.sh(ctx, "systemctl show -p "+name+" --value "+unit)
	return strings.TrimSpace(out)
}

type pkgExecution struct {
	ExecutionID string `json:"execution_id"`
	Attempt     int    `json:"attempt_number"`
	HandlerID   string `json:"handler_id"`
	Method      string `json:"method_name"`
	Status      string `json:"status"`
}

// history returns the succeeded dingaling.quick_aling attempts, keyed by
// execution and attempt, as `schedulezero history` lists them.
func (b *pkgBox) history(ctx context.Context) (map[string]bool, error) {
	out, err := b.sh(ctx, "schedulezero --json history -n 1000")
	if err != nil {
		return nil, err
	}
	var list []pkgExecution
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		return nil, fmt.Errorf("history --json: %w: %q", err, out)
	}
	ok := map[string]bool{}
	for _, e := range list {
		if e.HandlerID == "dingaling" && e.Method == "quick_aling" && e.Status == "success" {
			ok[fmt.Sprintf("%s/%d", e.ExecutionID, e.Attempt)] = true
		}
	}
	return ok, nil
}

// waitRuns waits until more than n succeeded runs are listed, and returns them.
func (b *pkgBox) waitRuns(ctx context.Context, t *testing.T, n int) map[string]bool {
	t.Helper()
	var runs map[string]bool
	b.waitFor(ctx, t, fmt.Sprintf("more than %d succeeded quick_aling runs in history", n), pkgWait, func() (bool, string) {
		r, err := b.history(ctx)
		if err != nil {
			return false, err.Error()
		}
		runs = r
		return len(r) > n, fmt.Sprintf("%d runs", len(r))
	})
	return runs
}

func (b *pkgBox) waitActive(ctx context.Context, t *testing.T, units ...string) {
	t.Helper()
	for _, u := range units {
		b.waitFor(ctx, t, u+" active", pkgWait, func() (bool, string) {
			s := b.prop(ctx, u, "ActiveState")
			return s == "active", s
		})
	}
}

// pkgBuild builds the package at version into dir and returns its path.
func pkgBuild(ctx context.Context, t *testing.T, root, dir, version string) string {
	t.Helper()
	env := append(os.Environ(), "SZ_VERSION="+version, "DIST="+dir)
	out, err := pkgRun(ctx, root, env, "bash", "packaging/build-deb.sh")
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
	return deb
}

func TestPackageStory(t *testing.T) {
	if os.Getenv("SZ_E2E") != "1" {
		t.Skip("end-to-end: set SZ_E2E=1 (make e2e)")
	}
	if os.Geteuid() != 0 {
		t.Skip("end-to-end: needs root to boot the container")
	}
	ctx := context.Background()
	root := pkgRepoRoot(t)
	dist := t.TempDir()
	base, err := pkgRun(ctx, root, os.Environ(), "sh", "packaging/version.sh")
	if err != nil {
		t.Fatal(err)
	}
	base = strings.TrimSpace(base)
	oldDeb := pkgBuild(ctx, t, root, dist, base)
	newDeb := pkgBuild(ctx, t, root, dist, base+"+e2e1") // sorts after base

	b := &pkgBox{script: filepath.Join(root, "test", "e2e", "sandbox.sh"), root: root}
	if _, err := b.sbx(ctx, "boot"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := b.sbx(context.Background(), "shutdown"); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	if _, err := b.sbx(ctx, "put", oldDeb, newDeb); err != nil {
		t.Fatal(err)
	}
	oldIn, newIn := "/sbx/"+filepath.Base(oldDeb), "/sbx/"+filepath.Base(newDeb)

	var before map[string]bool
	story := t.Run("1 install", func(t *testing.T) {
		b.must(ctx, t, "apt-get install -y "+oldIn)
		b.waitActive(ctx, t, "schedulezero-scheduler", "schedulezero-governor")
		for _, u := range []string{"schedulezero.target", "schedulezero-scheduler", "schedulezero-governor"} {
			if got := b.must(ctx, t, "systemctl is-enabled "+u); got != "enabled" {
				t.Errorf("%s: is-enabled = %q, want enabled", u, got)
			}
		}
		if got := b.must(ctx, t, "command -v schedulezero"); got != "/usr/bin/schedulezero" {
			t.Errorf("command -v schedulezero = %q", got)
		}
		for _, page := range []string{"1 schedulezero", "8 schedulezero-scheduler", "8 schedulezero-handler", "8 schedulezero-governor"} {
			b.must(ctx, t, "man -w "+page)
		}
		b.must(ctx, t, "id schedulezero")
	}) && t.Run("2 handler", func(t *testing.T) {
		b.must(ctx, t, "systemctl start schedulezero-handler@dingaling")
		b.waitActive(ctx, t, "schedulezero-handler@dingaling")
		b.waitFor(ctx, t, "dingaling registered", pkgWait, func() (bool, string) {
			out, err := b.sh(ctx, "schedulezero --json handlers")
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
	}) && t.Run("3 schedule", func(t *testing.T) {
		b.must(ctx, t, "schedulezero schedule add --handler dingaling --method quick_aling --every 2s")
		before = b.waitRuns(ctx, t, 2)
		b.waitFor(ctx, t, "runs in the handler's journal", pkgWait, func() (bool, string) {
			out, _ := b.sh(ctx, "journalctl -u schedulezero-handler@dingaling --no-pager -o cat | grep -c quick_aling")
			return strings.TrimSpace(out) != "" && strings.TrimSpace(out) != "0", out
		})
	}) && t.Run("4 kill scheduler", func(t *testing.T) {
		pid := b.prop(ctx, "schedulezero-scheduler", "MainPID")
		b.must(ctx, t, "systemctl kill -s KILL schedulezero-scheduler")
		b.waitFor(ctx, t, "scheduler restarted by systemd", pkgWait, func() (bool, string) {
			p, s := b.prop(ctx, "schedulezero-scheduler", "MainPID"), b.prop(ctx, "schedulezero-scheduler", "ActiveState")
			return p != pid && p != "0" && s == "active", "MainPID=" + p + " ActiveState=" + s
		})
		after := b.waitRuns(ctx, t, len(before)+2)
		for k := range before {
			if !after[k] {
				t.Errorf("run %s from before the kill is gone from history", k)
			}
		}
		before = after
	}) && t.Run("5 upgrade", func(t *testing.T) {
		b.must(ctx, t, "sed -i 's/\"concurrency\": [0-9]*/"+pkgLocalEdit+"/' "+pkgConffile)
		pids := map[string]string{}
		units := []string{"schedulezero-scheduler", "schedulezero-governor", "schedulezero-handler@dingaling"}
		for _, u := range units {
			pids[u] = b.prop(ctx, u, "MainPID")
		}
		b.must(ctx, t, "apt-get install -y "+newIn)
		want := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(newDeb), "schedulezero_"), "_amd64.deb")
		if got := b.must(ctx, t, "dpkg-query -W -f '${Version}' schedulezero"); got != want {
			t.Errorf("installed version %q, want %q", got, want)
		}
		for _, u := range units {
			b.waitFor(ctx, t, u+" restarted on the new binary", pkgWait, func() (bool, string) {
				p, s := b.prop(ctx, u, "MainPID"), b.prop(ctx, u, "ActiveState")
				return p != pids[u] && p != "0" && s == "active", "MainPID=" + p + " ActiveState=" + s
			})
		}
		if got := b.must(ctx, t, "cat "+pkgConffile); !strings.Contains(got, pkgLocalEdit) {
			t.Errorf("local edit of the conffile lost on upgrade:\n%s", got)
		}
		if got := b.must(ctx, t, "schedulezero --json schedule list"); !strings.Contains(got, `"quick_aling"`) {
			t.Errorf("schedule lost on upgrade:\n%s", got)
		}
		after := b.waitRuns(ctx, t, len(before)+2)
		for k := range before {
			if !after[k] {
				t.Errorf("run %s from before the upgrade is gone from history", k)
			}
		}
	})

	// Purge and lintian are proven whatever happened to the story above.
	t.Run("6 purge", func(t *testing.T) {
		if _, err := b.sh(ctx, "dpkg-query -W schedulezero"); err != nil {
			b.must(ctx, t, "apt-get install -y "+newIn) // the story stopped before installing
		}
		b.must(ctx, t, "apt-get purge -y schedulezero")
		if got := b.must(ctx, t, "systemctl list-units --all --no-legend --plain 'schedulezero*' | grep -v not-found || true"); got != "" {
			t.Errorf("units still loaded after purge:\n%s", got)
		}
		if got := b.must(ctx, t, "systemctl list-unit-files --no-legend 'schedulezero*' || true"); got != "" {
			t.Errorf("unit files left after purge:\n%s", got)
		}
		if got := b.must(ctx, t, "find /etc/systemd/system -name 'schedulezero*' || true"); got != "" {
			t.Errorf("enable links left after purge:\n%s", got)
		}
		for _, p := range []string{"/var/lib/schedulezero", "/etc/schedulezero", "/etc/default/schedulezero", "/usr/bin/schedulezero"} {
			if _, err := b.sh(ctx, "test ! -e "+p); err != nil {
				t.Errorf("%s left after purge", p)
			}
		}
		if got := b.must(ctx, t, "pgrep -a '^schedulezero' || true"); got != "" {
			t.Errorf("processes left after purge:\n%s", got)
		}
	})

	t.Run("7 lintian", func(t *testing.T) {
		if _, err := exec.LookPath("lintian"); err != nil {
			t.Skip("lintian is not installed on this host (apt-get install lintian)")
		}
		for _, deb := range []string{oldDeb, newDeb} {
			if out, err := pkgRun(ctx, root, os.Environ(), "lintian", "--fail-on", "error,warning", deb); err != nil {
				t.Errorf("lintian %s: %v\n%s", filepath.Base(deb), err, out)
			}
		}
	})
	if !story {
		t.Log("the story stopped at the first failed step; purge and lintian ran anyway")
	}
}
