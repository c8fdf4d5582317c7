package api

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/schedulezero/schedulezero/pkg/secretfile"
)

// maxTokenFile bounds what is read from a token file.
const maxTokenFile = 64 << 10

// LoadTokens reads API bearer tokens, one a line, from path; with an empty
// path it reads $CREDENTIALS_DIRECTORY/api-token when systemd passed one
// (LoadCredential=), and otherwise returns none: the API is then open to
// whoever can reach its socket. A token file outside the credentials
// directory must not be accessible to its group or others (secretfile).
func LoadTokens(path string) ([]string, error) {
	dir := os.Getenv("CREDENTIALS_DIRECTORY")
	if path == "" {
		if dir == "" {
			return nil, nil
		}
		path = filepath.Join(dir, "api-token")
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
	}
	content, err := secretfile.Read(path, dir, maxTokenFile)
	if err != nil {
		return nil, fmt.Errorf("api tokens: %w", err)
	}
	var tokens []string
	for line := range strings.Lines(content) {
		if t := strings.TrimSpace(line); t != "" && !strings.HasPrefix(t, "#") {
			tokens = append(tokens, t)
		}
	}
	if len(tokens) == 0 {
		return nil, fmt.Errorf("api tokens %s: the file has no token", path)
	}
	return tokens, nil
}
