package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// buildHandler builds a real urfave/cli binary of the module.
func buildHandler(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bin := filepath.Join(t.TempDir(), "schedulezero-handler")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "../../cmd/schedulezero-handler")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func TestRunWritesReproduciblePages(t *testing.T) {
	bin := buildHandler(t)
	var pages [2][]byte
	for i := range pages {
		out := t.TempDir()
		if err := run([]string{"-out", out, "-date", "2026-11-28", "-version", "0.1.0", bin + ":8"}); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(out, "schedulezero-handler.8.gz"))
		if err != nil {
			t.Fatal(err)
		}
		pages[i] = b
	}
	if !bytes.Equal(pages[0], pages[1]) {
		t.Error("two runs gave different bytes")
	}
	// gzip -9n: no name, no mtime, maximum compression (XFL=2).
	zr, err := gzip.NewReader(bytes.NewReader(pages[0]))
	if err != nil {
		t.Fatal(err)
	}
	if zr.Name != "" || !zr.ModTime.IsZero() || pages[0][8] != 2 {
		t.Errorf("gzip header: name %q, mtime %v, XFL %d; want empty, zero, 2", zr.Name, zr.ModTime, pages[0][8])
	}
	text, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{`.TH "SCHEDULEZERO-HANDLER" "8" "2026-11-28" "schedulezero 0.1.0"`, `\-\-name`, "SZ_HANDLER_NAME"} {
		if !strings.Contains(string(text), w) {
			t.Errorf("page lacks %q:\n%s", w, text)
		}
	}
}

func TestRunRejectsBadArguments(t *testing.T) {
	out := t.TempDir()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no binaries", []string{"-out", out, "-date", "d", "-version", "v"}, "usage"},
		{"no date", []string{"-out", out, "-version", "v", "x:1"}, "usage"},
		{"no section", []string{"-out", out, "-date", "d", "-version", "v", "x"}, "want BINARY:1 or BINARY:8"},
		{"bad section", []string{"-out", out, "-date", "d", "-version", "v", "x:5"}, "want BINARY:1 or BINARY:8"},
		{"missing binary", []string{"-out", out, "-date", "d", "-version", "v", filepath.Join(out, "nope") + ":1"}, "nope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := run(tt.args)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("run(%q) = %v, want an error containing %q", tt.args, err, tt.want)
			}
		})
	}
}

func TestRunAppendsExtra(t *testing.T) {
	bin := buildHandler(t)
	extra := t.TempDir()
	if err := os.WriteFile(filepath.Join(extra, "schedulezero-handler.8"), []byte(".SH FILES\n.I /etc/x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	if err := run([]string{"-out", out, "-date", "2026-11-28", "-version", "0.1.0", "-extra", extra, bin + ":8"}); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(out, "schedulezero-handler.8.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	text, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(string(text), "\n.SH FILES\n.I /etc/x\n") || !strings.Contains(string(text), "SZ_HANDLER_NAME") {
		t.Errorf("page does not end with the extra fragment after the generated part:\n%s", text)
	}
	// A program without a fragment is fine.
	if err := run([]string{"-out", out, "-date", "2026-11-28", "-version", "0.1.0", "-extra", t.TempDir(), bin + ":8"}); err != nil {
		t.Errorf("without a fragment: %v", err)
	}
}

// TestFragmentsRenderCleanly renders each fragment of packaging/man under a
// title line with man(1) the way lintian does: no warnings allowed.
func TestFragmentsRenderCleanly(t *testing.T) {
	if _, err := exec.LookPath("man"); err != nil {
		t.Skip("man(1) is not installed")
	}
	frags, err := filepath.Glob("../man/*")
	if err != nil || len(frags) == 0 {
		t.Fatalf("no fragments in packaging/man: %v", err)
	}
	for _, frag := range frags {
		t.Run(filepath.Base(frag), func(t *testing.T) {
			b, err := os.ReadFile(frag)
			if err != nil {
				t.Fatal(err)
			}
			page := filepath.Join(t.TempDir(), filepath.Base(frag))
			if err := os.WriteFile(page, append([]byte(".TH \"X\" \"8\" \"2026-11-28\" \"x\" \"x\"\n.SH NAME\nx \\- y\n"), b...), 0o644); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, "man", "--warnings", "-E", "UTF-8", "-l", "-Tutf8", "-Z", page)
			cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8", "MANWIDTH=80")
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("man: %v: %s", err, stderr.String())
			}
			if stderr.Len() > 0 {
				t.Errorf("man warnings:\n%s", stderr.String())
			}
		})
	}
}

// TestRunNeverStartsADaemon: a program without subcommands (a daemon) is
// never called with "man": it would take the words for arguments and start
// serving (the scheduler did, for 10 s, with its database in the working
// directory).
func TestRunNeverStartsADaemon(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "started")
	help := "NAME:\n   d - a daemon\n\nUSAGE:\n   d [global options]\n\nGLOBAL OPTIONS:\n   --db value  database\n"
	script := "#!/bin/sh\nif [ \"$1\" = --help ]; then printf '" + strings.ReplaceAll(help, "\n", "\\n") + "'; exit 0; fi\ntouch " + marker + "\n"
	bin := filepath.Join(dir, "d")
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := run([]string{"-out", t.TempDir(), "-date", "2026-11-28", "-version", "0.1.0", bin + ":8"}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("genman ran the daemon with arguments other than --help")
	}
}
