package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestAPIToken(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "tokens")
	if err := os.WriteFile(file, []byte("# comment\n\n  first \nsecond\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	creds := t.TempDir()
	if err := os.WriteFile(filepath.Join(creds, "api-token"), []byte("from-credential\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("# nothing\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, file, env, creds, want string
		wantErr                      bool
	}{
		{name: "none", want: ""},
		{name: "file, first token", file: file, want: "first"},
		{name: "file beats env", file: file, env: "env-token", want: "first"},
		{name: "env", env: " env-token ", want: "env-token"},
		{name: "env beats credential", env: "env-token", creds: creds, want: "env-token"},
		{name: "credential", creds: creds, want: "from-credential"},
		{name: "credential dir without the file", creds: dir, want: ""},
		{name: "missing file", file: filepath.Join(dir, "nope"), wantErr: true},
		{name: "file without a token", file: empty, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("SZ_API_TOKEN", tc.env)
			t.Setenv("CREDENTIALS_DIRECTORY", tc.creds)
			got, err := apiToken(tc.file)
			if (err != nil) != tc.wantErr {
				t.Fatalf("apiToken(%q) error = %v, want error %v", tc.file, err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("apiToken(%q) = %q, want %q", tc.file, got, tc.want)
			}
		})
	}
}
