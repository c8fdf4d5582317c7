package api_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/schedulezero/schedulezero/pkg/api"
)

// TestLoadTokens_Mode: a token file its group or others can read is
// refused with the fix, as handler secrets are; systemd's credentials
// directory sets its own modes and is trusted.
func TestLoadTokens_Mode(t *testing.T) {
	tests := []struct {
		name  string
		mode  os.FileMode
		creds bool // the file is $CREDENTIALS_DIRECTORY/api-token, found by default
		err   string
	}{
		{name: "owner only", mode: 0o600},
		{name: "read only", mode: 0o400},
		{name: "world-readable", mode: 0o644, err: "chmod 600"},
		{name: "group-readable", mode: 0o640, err: "readable by its group or others"},
		{name: "credential with an ACL mode", mode: 0o440, creds: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "api-token")
			if err := os.WriteFile(path, []byte("# comment\ntoken-0123456789\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tt.mode); err != nil {
				t.Fatal(err)
			}
			arg := path
			if tt.creds {
				t.Setenv("CREDENTIALS_DIRECTORY", dir)
				arg = ""
			} else {
				t.Setenv("CREDENTIALS_DIRECTORY", "")
			}
			tokens, err := api.LoadTokens(arg)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || !strings.Contains(err.Error(), path) {
					t.Fatalf("LoadTokens = %v, %v; want an error naming %s and saying %q", tokens, err, path, tt.err)
				}
				return
			}
			if err != nil || len(tokens) != 1 || tokens[0] != "token-0123456789" {
				t.Fatalf("LoadTokens = %v, %v", tokens, err)
			}
		})
	}
}
