package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// runUnits runs the CLI with the units command, whether or not app.go lists
// it yet.
func runUnits(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out, errb syncBuffer
	app := newApp(&out, &errb)
	if app.Command("units") == nil {
		app.Commands = append(app.Commands, unitsCommand())
		setUsageErrors(app.Commands)
	}
	code = executeApp(ctx, app, append([]string{"schedulezero"}, args...), &errb)
	return code, out.String(), errb.String()
}

func TestUnitsGenerate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "units")
	if code, out, errs := runUnits(t, "units", "generate", "--dir", dir); code != 0 || !strings.HasPrefix(out, "wrote ") {
		t.Fatalf("generate: exit %d\n%s%s", code, out, errs)
	}
	b, err := os.ReadFile(filepath.Join(dir, "schedulezero-scheduler.service"))
	if err != nil || !strings.Contains(string(b), "ExecStart=/usr/sbin/schedulezero-scheduler") {
		t.Fatalf("scheduler unit: %v\n%s", err, b)
	}
	if code, out, errs := runUnits(t, "units", "generate", "--check", "--dir", dir); code != 0 {
		t.Errorf("check right after generate: exit %d\n%s%s", code, out, errs)
	}
	if err := os.WriteFile(filepath.Join(dir, "schedulezero.target"), []byte("edited by hand\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errs := runUnits(t, "units", "generate", "--check", "--dir", dir)
	if code != exitGeneral || !strings.Contains(errs, "schedulezero.target") {
		t.Errorf("check after a hand edit: exit %d, stderr %q; want %d naming the file", code, errs, exitGeneral)
	}
}

func TestUnitsGenerate_BadInput(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"relative prefix", []string{"--prefix", "usr"}, `prefix "usr"`},
		{"bad user", []string{"--user", "Bad User"}, `user "Bad User"`},
		{"argument", []string{"units"}, "takes no arguments"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"units", "generate", "--dir", t.TempDir()}, tc.args...)
			code, _, errs := runUnits(t, args...)
			if code != exitUsage || !strings.Contains(errs, tc.want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, errs, exitUsage, tc.want)
			}
		})
	}
}
