package wire

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/schedulezero/schedulezero/pkg/field"
	"github.com/schedulezero/schedulezero/pkg/secretfile"
)

// Names of handler secrets in a systemd credentials directory
// ($CREDENTIALS_DIRECTORY, filled by LoadCredential=).
const (
	// HandlerSecretCredential is the credential holding a handler's own
	// secret, read by schedulezero-handler.
	HandlerSecretCredential = "handler-secret"
	// handlerSecretPrefixes name the scheduler's copies: "handler-secret.NAME"
	// is one credential per handler (LoadCredential=handler-secret.NAME:...),
	// "handler-secret_NAME" is what systemd makes of a directory
	// (LoadCredential=handler-secret:/etc/schedulezero/handler-secrets).
	handlerSecretDot        = HandlerSecretCredential + "."
	handlerSecretUnderscore = HandlerSecretCredential + "_"
)

// MinSecretLen is the shortest registration secret the scheduler accepts:
// a secret is sent on every registration and ping, so it must not be
// guessable by trying.
const MinSecretLen = 16

// maxSecretLen bounds what is read from a secret file.
const maxSecretLen = 4096

// Authenticator is implemented by a Registry that checks handler secrets.
// The Server calls Authenticate with params.handler_id and params.secret
// before Register, before ReportStatus and before Seen (a ping that names
// its handler); when it returns an error (wrapping ErrRefused) the request
// is answered with a refusal and the Registry is not told, so a refused
// handler neither changes the registry nor receives jobs.
type Authenticator interface {
	Authenticate(handlerID, secret string) error
}

// HandlerSecrets are the registration secrets the scheduler holds, by
// handler id. A handler with a secret must send it (params.secret) to
// register, ping or report its status; a handler without one is accepted
// as the original's handlers are, unless Require is set. Only SHA-256 sums
// are kept, compared in constant time. A nil *HandlerSecrets checks
// nothing. It is immutable and safe for concurrent use.
type HandlerSecrets struct {
	sums    map[string][sha256.Size]byte
	require bool
}

// NewHandlerSecrets returns the secrets of byHandler (handler id to
// secret). With require, handlers that have no secret are refused.
func NewHandlerSecrets(byHandler map[string]string, require bool) (*HandlerSecrets, error) {
	s := &HandlerSecrets{sums: make(map[string][sha256.Size]byte, len(byHandler)), require: require}
	for id, secret := range byHandler {
		if id == "" {
			return nil, errors.New("handler secrets: a secret has an empty handler id")
		}
		if err := checkSecret(secret); err != nil {
			return nil, fmt.Errorf("handler secret of %q: %w", id, err)
		}
		s.sums[id] = sha256.Sum256([]byte(secret))
	}
	return s, nil
}

func checkSecret(secret string) error {
	switch {
	case secret == "":
		return errors.New("the secret is empty")
	case len(secret) < MinSecretLen:
		return fmt.Errorf("the secret has %d characters; use at least %d (for example: head -c 32 /dev/urandom | base64)",
			len(secret), MinSecretLen)
	}
	return nil
}

// LoadHandlerSecrets reads the scheduler's handler secrets. With dir set,
// every file in dir holds the secret of the handler it is named after (the
// file must not be accessible to its group or others: chmod 600). Otherwise, when
// credsDir (the $CREDENTIALS_DIRECTORY of a systemd service) is set, its
// credentials named "handler-secret.NAME" or "handler-secret_NAME" are the
// secret of handler NAME. Surrounding white space is trimmed. Dot files and
// directories are skipped.
//
// It returns nil (nothing is checked) when no secret was found and require
// is false.
func LoadHandlerSecrets(dir, credsDir string, require bool) (*HandlerSecrets, error) {
	byHandler := map[string]string{}
	switch {
	case dir != "":
		if err := readSecretDir(dir, "", true, byHandler); err != nil {
			return nil, err
		}
	case credsDir != "":
		for _, prefix := range []string{handlerSecretDot, handlerSecretUnderscore} {
			if err := readSecretDir(credsDir, prefix, false, byHandler); err != nil {
				return nil, err
			}
		}
	}
	if len(byHandler) == 0 && !require {
		return nil, nil
	}
	return NewHandlerSecrets(byHandler, require)
}

// readSecretDir adds the secrets of the files in dir whose names start with
// prefix (the rest of the name is the handler id) to byHandler.
func readSecretDir(dir, prefix string, private bool, byHandler map[string]string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("handler secrets directory: %w", err)
	}
	for _, e := range entries {
		id, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok || id == "" || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		path := filepath.Join(dir, e.Name())
		fi, err := os.Stat(path) // follows symlinks
		if err != nil {
			return fmt.Errorf("handler secret %s: %w", path, err)
		}
		if !fi.Mode().IsRegular() {
			continue
		}
		credsDir := dir // a credentials directory: systemd set the modes
		if private {
			credsDir = ""
		}
		secret, err := readSecret(path, credsDir)
		if err != nil {
			return err
		}
		if _, dup := byHandler[id]; dup {
			return fmt.Errorf("handler secret %s: handler %q has a second secret in %s; keep one", path, id, dir)
		}
		byHandler[id] = secret
	}
	return nil
}

// readSecret returns the trimmed contents of a secret file, checked
// (secretfile.Read: not accessible to group or others unless it is a
// credential in credsDir).
func readSecret(path, credsDir string) (string, error) {
	secret, err := secretfile.Read(path, credsDir, maxSecretLen)
	if err != nil {
		return "", fmt.Errorf("handler secret: %w", err)
	}
	if err := checkSecret(secret); err != nil {
		return "", fmt.Errorf("handler secret %s: %w", path, err)
	}
	return secret, nil
}

// Check says whether secret lets handler handlerID register, ping and
// report. The error wraps ErrRefused and names the field and the fix; it
// never contains a secret.
func (s *HandlerSecrets) Check(handlerID, secret string) error {
	if s == nil {
		return nil
	}
	want, ok := s.sums[handlerID]
	switch {
	case ok && secret == "":
		return refused(handlerID, field.Errorf("params.secret", "is missing, and the scheduler holds a registration secret for this handler").
			WithFix("give the handler its secret: schedulezero-handler --secret-file, or the %s credential", HandlerSecretCredential))
	case ok:
		got := sha256.Sum256([]byte(secret))
		if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			return refused(handlerID, field.Errorf("params.secret", "does not match the scheduler's registration secret for this handler").
				WithFix("give the handler the same secret as the scheduler's %s%s", handlerSecretDot, handlerID))
		}
		return nil
	case s.require:
		return refused(handlerID, field.Errorf("handler_id", "has no registration secret on the scheduler, which requires one for every handler (--require-handler-secrets)").
			WithFix("add the secret as %s%s in the scheduler's credentials or --handler-secrets-dir", handlerSecretDot, handlerID))
	}
	return nil
}

func refused(handlerID string, fe *field.Error) error {
	return fmt.Errorf("%w handler %q: %w", ErrRefused, handlerID, fe)
}

// Protects says whether handler handlerID must authenticate: it has a
// secret, or every handler must have one.
func (s *HandlerSecrets) Protects(handlerID string) bool {
	if s == nil {
		return false
	}
	_, ok := s.sums[handlerID]
	return ok || s.require
}

// Required says whether handlers without a secret are refused.
func (s *HandlerSecrets) Required() bool { return s != nil && s.require }

// Handlers returns the ids of the handlers that have a secret, sorted.
func (s *HandlerSecrets) Handlers() []string {
	if s == nil {
		return nil
	}
	out := make([]string, 0, len(s.sums))
	for id := range s.sums {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// LogValue implements slog.LogValuer: the handler ids, never a secret.
func (s *HandlerSecrets) LogValue() slog.Value {
	return slog.GroupValue(slog.Any("handlers", s.Handlers()), slog.Bool("required", s.Required()))
}
