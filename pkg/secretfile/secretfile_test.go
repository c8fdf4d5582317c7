package secretfile_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/schedulezero/schedulezero/pkg/secretfile"
)

func TestRead(t *testing.T) {
	creds := t.TempDir()
	other := t.TempDir()
	tests := []struct {
		name    string
		dir     string
		mode    os.FileMode
		body    string
		want    string
		exposed bool
		err     string
	}{
		{name: "owner only", dir: other, mode: 0o600, body: " s3cret \n", want: "s3cret"},
		{name: "owner read only", dir: other, mode: 0o400, body: "s3cret", want: "s3cret"},
		{name: "group-readable", dir: other, mode: 0o640, body: "s3cret", exposed: true},
		{name: "world-readable", dir: other, mode: 0o644, body: "s3cret", exposed: true},
		{name: "group-writable", dir: other, mode: 0o620, body: "s3cret", exposed: true},
		{name: "credential with an ACL mode", dir: creds, mode: 0o440, body: "s3cret", want: "s3cret"},
		{name: "too long", dir: other, mode: 0o600, body: strings.Repeat("x", 65), err: "longer than 64 bytes"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(tt.dir, "secret"+string(rune('a'+i)))
			if err := os.WriteFile(path, []byte(tt.body), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tt.mode); err != nil {
				t.Fatal(err)
			}
			got, err := secretfile.Read(path, creds, 64)
			switch {
			case tt.exposed:
				if !errors.Is(err, secretfile.ErrExposed) || !strings.Contains(err.Error(), "chmod 600 "+path) {
					t.Fatalf("Read = %q, %v; want ErrExposed with the fix for %s", got, err, path)
				}
			case tt.err != "":
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("Read = %q, %v; want %q", got, err, tt.err)
				}
			case err != nil || got != tt.want:
				t.Fatalf("Read = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
	if _, err := secretfile.Read(other, "", 64); err == nil {
		t.Error("Read of a directory succeeded")
	}
}

func TestResolve(t *testing.T) {
	tests := []struct {
		name, in, creds, want string // want "": an error
	}{
		{"absolute", "/etc/sz/secret", "", "/etc/sz/secret"},
		{"credential name", "handler-secret", "/run/credentials/x", "/run/credentials/x/handler-secret"},
		{"nested credential", "a/b", "/run/credentials/x", "/run/credentials/x/a/b"},
		{"relative without credentials", "handler-secret", "", ""},
		{"dot dot", "../secret", "/run/credentials/x", ""},
		{"dot dot inside", "a/../../secret", "/run/credentials/x", ""},
		{"absolute with dot dot", "/etc/../secret", "", ""},
		{"empty", "", "/run/credentials/x", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := secretfile.Resolve(tt.in, tt.creds)
			if tt.want == "" {
				if err == nil {
					t.Fatalf("Resolve(%q, %q) = %q, want an error", tt.in, tt.creds, got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Resolve(%q, %q) = %q, %v; want %q", tt.in, tt.creds, got, err, tt.want)
			}
		})
	}
}
