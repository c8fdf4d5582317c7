package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4/security/curve"
)

// keys generate --secret-file writes an owner-only key whose public key is
// the one printed, keys show prints it again, and an existing file is not
// overwritten.
func TestKeys_GenerateShow(t *testing.T) {
	path := filepath.Join(t.TempDir(), "scheduler.key")
	out, code := runCLI(t, "keys", "generate", "--secret-file", path)
	if code != 0 {
		t.Fatalf("generate: exit %d: %s", code, out)
	}
	pub := strings.TrimSpace(out)
	if _, err := curve.ParseKey(pub); err != nil {
		t.Fatalf("generate printed %q: %v", out, err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("secret file: %v, mode %v; want 0600", err, fi.Mode())
	}
	if out, code := runCLI(t, "keys", "show", path); code != 0 || strings.TrimSpace(out) != pub {
		t.Errorf("show = %q (exit %d), want %s", out, code, pub)
	}
	if out, code := runCLI(t, "keys", "generate", "--secret-file", path); code == 0 || !strings.Contains(out, "exists") {
		t.Errorf("generate over an existing file: exit %d, %q", code, out)
	}
	if out, code := runCLI(t, "keys", "generate"); code != 0 || !strings.HasPrefix(out, "public-key: ") || !strings.Contains(out, "\nsecret-key: ") {
		t.Errorf("generate without a file: exit %d, %q", code, out)
	}
}

// runCLI runs the CLI; it returns stdout and stderr together and the exit
// code.
func runCLI(t *testing.T, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out, errb syncBuffer
	code := executeApp(ctx, newApp(&out, &errb), append([]string{"schedulezero"}, args...), &errb)
	return out.String() + errb.String(), code
}
