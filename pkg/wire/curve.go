package wire

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-zeromq/zmq4"
	"github.com/go-zeromq/zmq4/security/curve"

	"github.com/schedulezero/schedulezero/pkg/handlername"
	"github.com/schedulezero/schedulezero/pkg/secretfile"
)

// CURVE (ZMTP-CURVE, libzmq's ZMQ_CURVE) encrypts and authenticates the
// registration channel between hosts: the scheduler is the CURVE server,
// with a key pair and the list of the handlers' public keys it allows;
// each handler has a key pair and the scheduler's public key. A handler
// whose key is not allowed is refused in the handshake, before the server
// reads a message from it. Keys are Z85 text as libzmq's
// (zmq_curve_keypair, curve_keygen), so a pyzmq handler uses the same.

// WithCurveServer makes Listen's socket a CURVE server with its secret key,
// allowing only the clients whose public keys are in allowed.
func WithCurveServer(secret curve.SecretKey, allowed []curve.PublicKey) Option {
	return func(s *settings) { s.security = curve.NewServer(secret, curve.AllowKeys(allowed...)) }
}

// WithCurveClient makes the sockets of NewClient and Dial CURVE clients with
// their secret key, of the server whose public key is server.
func WithCurveClient(secret curve.SecretKey, server curve.PublicKey) Option {
	return func(s *settings) { s.security = curve.NewClient(secret, server) }
}

// socketOptions are the zmq4 options of a socket with these settings.
func (s settings) socketOptions() []zmq4.Option {
	opts := s.limits.SocketOptions()
	if s.security != nil {
		opts = append(opts, zmq4.WithSecurity(s.security))
	}
	return opts
}

// maxKeyFile bounds a key file: a key, white space, a comment or two.
const maxKeyFile = 4096

// ReadCurveSecretKey reads a secret key file (Z85, as `schedulezero keys
// generate` writes it) with the rule of every secret file: owner-only,
// unless it is a systemd credential in credsDir. A relative name is taken
// inside credsDir.
func ReadCurveSecretKey(name, credsDir string) (curve.SecretKey, error) {
	path, err := secretfile.Resolve(name, credsDir)
	if err != nil {
		return curve.SecretKey{}, err
	}
	text, err := secretfile.Read(path, credsDir, maxKeyFile)
	if err != nil {
		return curve.SecretKey{}, err
	}
	k, err := curve.ParseKey(keyLine(text))
	if err != nil {
		return curve.SecretKey{}, fmt.Errorf("curve secret key file %s: %w; write it with: schedulezero keys generate", path, err)
	}
	return curve.SecretKey(k), nil
}

// ParseCurvePublicKey decodes a public key given as text (a flag).
func ParseCurvePublicKey(text string) (curve.PublicKey, error) {
	k, err := curve.ParseKey(text)
	if err != nil {
		return curve.PublicKey{}, fmt.Errorf("%w; it is the 40 characters `schedulezero keys show` prints", err)
	}
	return curve.PublicKey(k), nil
}

// ReadCurveAllowed reads the client public keys allowed: path is a file
// with one Z85 key a line, or a directory whose every regular file holds
// one (a file per handler, as key_NAME.pub). Blank lines and lines
// starting with # are skipped. Public keys are not secret; the files are
// read whatever their mode. No key at all is an error: a server that
// allows nobody is a mistake.
func ReadCurveAllowed(path string) ([]curve.PublicKey, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	files := []string{path}
	if fi.IsDir() {
		entries, err := os.ReadDir(path)
		if err != nil {
			return nil, err
		}
		files = files[:0]
		for _, e := range entries {
			if e.Type().IsRegular() && !strings.HasPrefix(e.Name(), ".") {
				files = append(files, filepath.Join(path, e.Name()))
			}
		}
	}
	var keys []curve.PublicKey
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for n := 1; sc.Scan(); n++ {
			line := strings.TrimSpace(sc.Text())
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			k, err := curve.ParseKey(line)
			if err != nil {
				return nil, fmt.Errorf("allowed client keys %s:%d: %w", f, n, err)
			}
			keys = append(keys, curve.PublicKey(k))
		}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("allowed client keys %s: no key; add the public key of each handler (schedulezero keys show)", path)
	}
	return keys, nil
}

// keyLine is the key in a key file's text: its first line that is not a
// comment.
func keyLine(text string) string {
	for line := range strings.SplitSeq(text, "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			return line
		}
	}
	return ""
}

// CurveServerKeys are the scheduler's CURVE keys: its secret key and the
// public keys of the handlers it allows.
type CurveServerKeys struct {
	Secret  curve.SecretKey
	Allowed []curve.PublicKey
}

// Options are the wire options of k; none for nil (NULL).
func (k *CurveServerKeys) Options() []Option {
	if k == nil {
		return nil
	}
	return []Option{WithCurveServer(k.Secret, k.Allowed)}
}

// ErrInsecureBind is returned by CheckExposure for an endpoint other hosts
// can reach that has no CURVE.
var ErrInsecureBind = errors.New("reachable from other hosts without CURVE")

// CheckExposure tells whether binding endpoint without CURVE exposes the
// registration channel to other hosts: a TCP address that is not loopback.
// ipc:// and loopback are fine. It returns ErrInsecureBind for such an
// endpoint unless insecure is set, in which case it returns exposed true
// (the caller logs a warning).
func CheckExposure(endpoint string, withCurve, insecure bool) (exposed bool, err error) {
	if withCurve {
		return false, nil
	}
	if !handlername.Exposed(endpoint) {
		return false, nil // loopback, ipc://, or a bad endpoint that Bind names
	}
	if insecure {
		return true, nil
	}
	return true, fmt.Errorf("%s: %w: give --curve-secret-key-file and --curve-allow (docs/security.md, \"Handlers on other hosts\"), or --insecure to accept plaintext", endpoint, ErrInsecureBind)
}
