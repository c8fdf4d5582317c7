// Package secretfile reads the files that hold secrets (API tokens,
// handler registration secrets) with one rule for all of them, so that no
// reader is laxer than another: a secret file that its group or others may
// read is refused, with the fix in the error.
//
// Credentials that systemd passes in $CREDENTIALS_DIRECTORY are exempt
// from the mode check: the directory is private to the service, and
// systemd grants the service's user access with an ACL, which shows in the
// group bits of the mode.
package secretfile

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// ErrExposed is wrapped by Read for a file that its group or others may
// access.
var ErrExposed = errors.New("readable by its group or others")

// Read returns the contents of the secret file at path, at most max bytes,
// with surrounding white space trimmed. It refuses a file whose mode grants
// its group or others anything (unless the file lies inside credsDir, the
// systemd credentials directory, or "" for none), a file that is not a
// regular file and a file longer than max.
func Read(path, credsDir string, max int) (string, error) {
	return read(path, max, !IsCredential(path, credsDir))
}

func read(path string, max int, checkMode bool) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err // *fs.PathError names the file
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", err
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("secret file %s: not a regular file", path)
	}
	if perm := fi.Mode().Perm(); checkMode && perm&0o077 != 0 {
		return "", fmt.Errorf("secret file %s: %w (mode %04o); run chmod 600 %s, or pass it as a systemd credential (LoadCredential=)",
			path, ErrExposed, perm, path)
	}
	b, err := io.ReadAll(io.LimitReader(f, int64(max)+1))
	if err != nil {
		return "", fmt.Errorf("secret file %s: %w", path, err)
	}
	if len(b) > max {
		return "", fmt.Errorf("secret file %s: longer than %d bytes", path, max)
	}
	return strings.TrimSpace(string(b)), nil
}

// Resolve returns the file that a configured secret file name means: an
// absolute name as it is, a relative one inside credsDir (the systemd
// credentials directory). A relative name needs credsDir, and must stay
// inside it ("../x" does not); it is never taken relative to the working
// directory, which depends on who started the process.
func Resolve(name, credsDir string) (string, error) {
	if err := CheckName(name); err != nil {
		return "", err
	}
	if filepath.IsAbs(name) {
		return filepath.Clean(name), nil
	}
	if credsDir == "" {
		return "", fmt.Errorf("secret file %q: a relative name is taken inside $CREDENTIALS_DIRECTORY, which is not set; give an absolute path", name)
	}
	return filepath.Join(credsDir, name), nil
}

// CheckName reports whether name can name a secret file for Resolve: an
// absolute path, or a relative one that stays inside its base.
func CheckName(name string) error {
	switch {
	case name == "":
		return errors.New("secret file: empty name")
	case slices.Contains(strings.Split(filepath.ToSlash(name), "/"), ".."):
		return fmt.Errorf("secret file %q: no .. allowed; give an absolute path or a name inside $CREDENTIALS_DIRECTORY", name)
	case filepath.IsAbs(name):
		return nil
	case !filepath.IsLocal(name):
		return fmt.Errorf("secret file %q: a relative name must stay inside $CREDENTIALS_DIRECTORY (no ..); give an absolute path or a credential name", name)
	}
	return nil
}

// IsCredential reports whether path lies inside credsDir, where Read does
// not check the mode.
func IsCredential(path, credsDir string) bool {
	if credsDir == "" {
		return false
	}
	rel, err := filepath.Rel(credsDir, path)
	return err == nil && filepath.IsLocal(rel)
}
