package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
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
