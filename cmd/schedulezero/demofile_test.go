package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestDemoFile_Precedence: --api, then $SZ_API, then a running demo's
// file, then the default. The CLI in a second terminal finds the demo with
// no flag at all.
func TestDemoFile_Precedence(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	t.Setenv("SZ_API", "")
	tb := setup(t)
	tb.seed(t)
	run := func(args ...string) (string, string, int) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var out, errb syncBuffer
		code := execute(ctx, append([]string{"schedulezero"}, args...), &out, &errb)
		return out.String(), errb.String(), code
	}
	if got := apiAddress(""); got == tb.url {
		t.Fatalf("no demo file yet, but the address is the test server's")
	}
	remove, err := writeDemoFile(demoFile{PID: os.Getpid(), API: tb.url, Governor: "unix:/nonexistent/governor.sock", Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(demoFilePath())
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("demo file: %v, mode %v; want 0600", err, fi.Mode())
	}
	if out, errOut, code := run("schedule", "list"); code != 0 || !strings.Contains(out, "counter") {
		t.Errorf("no flag, a demo running: exit %d\n%s%s", code, out, errOut)
	}
	t.Setenv("SZ_API", "unix:/nonexistent/api.sock")
	if _, errOut, code := run("schedule", "list"); code != exitUnreachable || !strings.Contains(errOut, "/nonexistent/api.sock") {
		t.Errorf("SZ_API must win over the demo file: exit %d, %s", code, errOut)
	}
	if out, errOut, code := run("--api", tb.url, "schedule", "list"); code != 0 || !strings.Contains(out, "counter") {
		t.Errorf("--api must win over SZ_API: exit %d, %s", code, errOut)
	}
	if got := apiAddress("http://flag:1"); got != "http://flag:1" {
		t.Errorf("apiAddress(flag) = %q", got)
	}
	if _, err := writeDemoFile(demoFile{PID: os.Getppid(), API: "unix:/x"}); err == nil || !strings.Contains(err.Error(), "another demo") {
		t.Errorf("a second demo: %v, want an error naming the running one", err)
	}
	remove()
	if _, err := os.Stat(demoFilePath()); !os.IsNotExist(err) {
		t.Errorf("remove left %s: %v", demoFilePath(), err)
	}
}

// TestDemoFile_Untrusted: a file that others could have written, or whose
// demo is gone, is ignored.
func TestDemoFile_Untrusted(t *testing.T) {
	tests := []struct {
		name    string
		dirMode os.FileMode
		mode    os.FileMode
		pid     int
	}{
		{"world-readable file", 0o700, 0o644, os.Getpid()},
		{"group-writable directory", 0o770, 0o600, os.Getpid()},
		{"demo gone", 0o700, 0o600, 1 << 22}, // above pid_max's default
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
			dir := filepath.Dir(demoFilePath())
			if err := os.Mkdir(dir, tc.dirMode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(dir, tc.dirMode); err != nil { // past the umask
				t.Fatal(err)
			}
			body := `{"pid":` + strconv.Itoa(tc.pid) + `,"api":"unix:/somewhere/else.sock"}`
			if err := os.WriteFile(demoFilePath(), []byte(body), tc.mode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(demoFilePath(), tc.mode); err != nil {
				t.Fatal(err)
			}
			if f, ok := readDemoFile(); ok {
				t.Errorf("trusted %+v", f)
			}
			if got := apiAddress(""); got == "unix:/somewhere/else.sock" {
				t.Errorf("apiAddress followed an untrusted file")
			}
		})
	}
}
