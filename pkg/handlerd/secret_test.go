package handlerd_test

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/schedulezero/schedulezero/pkg/field"
	"github.com/schedulezero/schedulezero/pkg/handlerd"
)

// TestOptions_Secret: where the handler's registration secret comes from,
// in order: --secret-file, the config's secret_file, the handler-secret
// credential; none at all is fine (the scheduler decides).
func TestOptions_Secret(t *testing.T) {
	logger := slog.New(slog.DiscardHandler)
	creds := t.TempDir()
	secretFile := func(name, body string) string {
		p := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	flagFile := secretFile("flag", "from-flag-0123456789\n")
	emptyFile := secretFile("empty", " \n")
	if err := os.WriteFile(filepath.Join(creds, "handler-secret"), []byte("from-credential-0123\n"), 0o400); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(creds, "other"), []byte("from-config-relative\n"), 0o400); err != nil {
		t.Fatal(err)
	}
	noCreds := t.TempDir()
	openFile := secretFile("open", "from-open-file-0123\n")
	groupFile := secretFile("group", "from-group-file-012\n")
	for path, mode := range map[string]os.FileMode{openFile: 0o644, groupFile: 0o640} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(creds, "acl"), []byte("from-credential-acl0\n"), 0o440); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		flag     string
		file     string // the config's secret_file
		creds    string
		want     string
		errField string
	}{
		{name: "flag wins", flag: flagFile, file: "other", creds: creds, want: "from-flag-0123456789"},
		{name: "config file, relative to the credentials", file: "other", creds: creds, want: "from-config-relative"},
		{name: "config file, absolute", file: flagFile, creds: creds, want: "from-flag-0123456789"},
		{name: "the handler-secret credential", creds: creds, want: "from-credential-0123"},
		{name: "no credential: no secret", creds: noCreds, want: ""},
		{name: "outside systemd: no secret", want: ""},
		{name: "missing flag file", flag: filepath.Join(noCreds, "nope"), creds: creds, errField: "--secret-file"},
		{name: "empty flag file", flag: emptyFile, errField: "--secret-file"},
		{name: "missing config file", file: "nope", creds: creds, errField: "secret_file"},
		{name: "config file climbs out of the credentials", file: "../" + filepath.Base(creds) + "/other", creds: creds, errField: "secret_file"},
		{name: "config file relative outside systemd", file: "other", errField: "secret_file"},
		{name: "flag file readable by others", flag: openFile, errField: "--secret-file"},
		{name: "config file readable by the group", file: groupFile, creds: creds, errField: "secret_file"},
		{name: "credential with systemd's ACL mode", file: "acl", creds: creds, want: "from-credential-acl0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := `{"kind":"dingaling"}`
			if tc.file != "" {
				body = `{"kind":"dingaling","secret_file":"` + tc.file + `"}`
			}
			getenv := env()
			if tc.creds != "" {
				getenv = env("CREDENTIALS_DIRECTORY", tc.creds)
			}
			_, opts, err := handlerd.Options(handlerd.Flags{Name: "ding", ConfigPath: write(t, body), SecretFile: tc.flag}, logger, getenv)
			if tc.errField != "" {
				var fe *field.Error
				if !errors.As(err, &fe) || fe.Field != tc.errField {
					t.Fatalf("err = %v, want a field error on %s", err, tc.errField)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if opts.Secret != tc.want {
				t.Fatalf("secret %q, want %q", opts.Secret, tc.want)
			}
		})
	}
}
