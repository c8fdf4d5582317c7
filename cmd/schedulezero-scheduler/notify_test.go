package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
	"go.uber.org/goleak"

	"github.com/schedulezero/schedulezero/pkg/schedulerd"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The webhook secret comes from --notify-secret-file or the credential
// notify-secret, with the secret-file rules; negative durations are
// refused.
func TestNotifyOptions(t *testing.T) {
	creds := t.TempDir()
	if err := os.WriteFile(filepath.Join(creds, "notify-secret"), []byte("from-credential\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	private := filepath.Join(dir, "private")
	exposed := filepath.Join(dir, "exposed")
	empty := filepath.Join(dir, "empty")
	for p, mode := range map[string]os.FileMode{private: 0o600, exposed: 0o644, empty: 0o600} {
		body := "from-file"
		if p == empty {
			body = ""
		}
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name, creds string
		args        []string
		secret      string // want
		err         string // want a substring of the error
	}{
		{"none", "", nil, "", ""},
		{"credential", creds, nil, "from-credential", ""},
		{"file over credential", creds, []string{"--notify-secret-file", private}, "from-file", ""},
		{"exposed file", "", []string{"--notify-secret-file", exposed}, "", "--notify-secret-file"},
		{"empty file", "", []string{"--notify-secret-file", empty}, "", "is empty"},
		{"defaults", "", []string{"--notify-on-failure", "https://h.example/x", "--notify-dead-man-after", "26h"}, "", ""},
		{"negative", "", []string{"--notify-dead-man-after", "-1h"}, "", "must not be negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("CREDENTIALS_DIRECTORY", tc.creds)
			var got schedulerd.NotifyOptions
			var err error
			app := &cli.App{Name: "s", Flags: notifyFlags(), Action: func(c *cli.Context) error {
				got, err = notifyOptions(c)
				return nil
			}}
			if rerr := app.Run(append([]string{"s"}, tc.args...)); rerr != nil {
				t.Fatal(rerr)
			}
			switch {
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("err = %v, want one with %q", err, tc.err)
			case tc.err == "" && err != nil:
				t.Fatal(err)
			case string(got.Secret) != tc.secret:
				t.Errorf("secret %q, want %q", got.Secret, tc.secret)
			}
		})
	}
}
