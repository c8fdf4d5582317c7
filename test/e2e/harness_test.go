package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// What the three suites (package story, systemd, governor) share. Each
// boots its own sandbox (sandbox.sh) so that they can run in any order.

// skipUnlessE2E skips unless SZ_E2E=1 (`make e2e`) and, with needRoot,
// unless the test runs as root (booting a container needs it).
func skipUnlessE2E(t *testing.T, needRoot bool) {
	t.Helper()
	if os.Getenv("SZ_E2E") != "1" {
		t.Skip("end-to-end: set SZ_E2E=1 (make e2e)")
	}
	if needRoot && os.Geteuid() != 0 {
		t.Skip("end-to-end: needs root to boot the container")
	}
}

// sandboxEnv is the environment of sandbox.sh for one suite: its machine
// name, its own rootfs cache (SBX_DIR, default /var/tmp/schedulezero-e2e,
// plus suffix) and the extra Debian packages of its rootfs.
func sandboxEnv(name, suffix, extraPackages string) []string {
	dir := os.Getenv("SBX_DIR")
	if dir == "" {
		dir = "/var/tmp/schedulezero-e2e"
	}
	return append(os.Environ(),
		"SBX_NAME="+name,
		"SBX_DIR="+dir+suffix,
		"SBX_EXTRA_PACKAGES="+extraPackages,
	)
}

// parseJournal reads the output of `journalctl -o json`: one entry a line.
func parseJournal(out string) ([]map[string]any, error) {
	var entries []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line == "-- No entries --" {
			continue
		}
		var e map[string]any
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			return nil, fmt.Errorf("journalctl -o json: %w: %q", err, line)
		}
		entries = append(entries, e)
	}
	return entries, sc.Err()
}

// journalField is the string value of field k of a journal entry.
func journalField(e map[string]any, k string) string {
	s, _ := e[k].(string)
	return s
}

// waitFor polls cond every poll until it holds, for at most d (or until
// ctx ends), and returns when it first held; cond describes the state it
// saw for the failure message.
func waitFor(ctx context.Context, t *testing.T, what string, d, poll time.Duration, cond func() (bool, string)) time.Time {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	tick := time.NewTicker(poll)
	defer tick.Stop()
	for {
		ok, state := cond()
		if ok {
			return time.Now()
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: not within %v; last state: %s", what, d, state)
		case <-tick.C:
		}
	}
}

// sandbox drives one container of sandbox.sh. Every suite uses it; the
// suites' own types (sdBox, govBox, pkgBox) add only what is theirs.
type sandbox struct {
	ctx        context.Context // bounds every command; reset for the shutdown in Cleanup
	script     string          // test/e2e/sandbox.sh
	root       string          // the module root, sandbox.sh's working directory
	env        []string        // sandbox.sh's environment (sandboxEnv)
	shell      string          // what runs a line inside: "bash" (for /dev/tcp) or "sh"
	poll       time.Duration   // waitFor's interval
	cmdTimeout time.Duration   // the bound of one command
	// stdoutOnly makes sh return stdout alone, trimmed, for lines whose
	// output is parsed; stderr is then only in errors.
	stdoutOnly bool
}

// newSandbox returns the sandbox of env for the module at root.
func newSandbox(ctx context.Context, root string, env []string) *sandbox {
	return &sandbox{ctx: ctx, script: filepath.Join(root, "test", "e2e", "sandbox.sh"), root: root, env: env,
		shell: "sh", poll: 200 * time.Millisecond, cmdTimeout: 3 * time.Minute}
}

// boot boots the container and shuts it down when the test ends, after
// onFail (if given) has logged what a failed test needs.
func (b *sandbox) boot(t *testing.T, onFail func()) {
	t.Helper()
	start := time.Now()
	if _, err := b.sbx("boot"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		b.ctx = context.Background() // t.Context is done by now
		if t.Failed() && onFail != nil {
			onFail()
		}
		if _, err := b.sbx("shutdown"); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	t.Logf("sandbox booted in %v", time.Since(start).Round(100*time.Millisecond))
}

// hostRun runs a command on the host in dir with env, bounded by the
// command timeout, and returns its combined output.
func hostRun(ctx context.Context, dir string, env []string, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	return hostCmd(ctx, dir, env, false, name, args...)
}

// hostCmd runs a command on the host. Its output is stdout and stderr as
// they came, or, with stdoutOnly, stdout alone unless the command failed
// (then stdout followed by stderr).
func hostCmd(ctx context.Context, dir string, env []string, stdoutOnly bool, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir, cmd.Env = dir, env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out // one writer: the order is kept
	if stdoutOnly {
		cmd.Stderr = &errb
	}
	if err := cmd.Run(); err != nil {
		all := out.String() + errb.String()
		return all, fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, all)
	}
	return out.String(), nil
}

// sbx runs sandbox.sh with args (boot, put, exec, shutdown).
func (b *sandbox) sbx(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(b.ctx, b.cmdTimeout)
	defer cancel()
	return hostCmd(ctx, b.root, b.env, b.stdoutOnly, "bash", append([]string{b.script}, args...)...)
}

// sh runs a shell command line inside the container.
func (b *sandbox) sh(line string) (string, error) {
	out, err := b.sbx("exec", b.shell, "-c", line)
	if b.stdoutOnly {
		out = strings.TrimSpace(out)
	}
	return out, err
}

// must runs a command line inside and fails the test on error.
func (b *sandbox) must(t *testing.T, line string) string {
	t.Helper()
	out, err := b.sh(line)
	if err != nil {
		t.Fatalf("in the sandbox: %v", err)
	}
	return strings.TrimSpace(out)
}

// prop returns one `systemctl show` property of unit.
func (b *sandbox) prop(unit, name string) string {
	out, _ := b.sh("systemctl show -p " + name + " --value " + unit)
	return strings.TrimSpace(out)
}

// waitFor polls cond every poll until it holds or d passes, and returns
// when it first held.
func (b *sandbox) waitFor(t *testing.T, what string, d time.Duration, cond func() (bool, string)) time.Time {
	t.Helper()
	return waitFor(b.ctx, t, what, d, b.poll, cond)
}

// writeFile writes content to path inside the container.
func (b *sandbox) writeFile(t *testing.T, path, content string) {
	t.Helper()
	b.must(t, fmt.Sprintf("mkdir -p %q && cat > %q <<'SZEOF'\n%s\nSZEOF", filepath.Dir(path), path, content))
}
