package governor_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"
)

// handlerBin is schedulezero-handler, built once for the package.
var handlerBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "governor-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	handlerBin = filepath.Join(dir, "schedulezero-handler")
	out, err := exec.Command("go", "build", "-o", handlerBin, "github.com/schedulezero/schedulezero/cmd/schedulezero-handler").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build schedulezero-handler: %v\n%s", err, out)
		os.RemoveAll(dir) //nolint:errcheck // best effort
		os.Exit(2)
	}
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		os.RemoveAll(dir) //nolint:errcheck // best effort
		os.Exit(code)
	}))
}

// logBuf is a concurrency-safe log sink a test can search.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Contains reports whether one log line holds every part.
func (l *logBuf) Contains(parts ...string) bool {
	for line := range strings.SplitSeq(l.String(), "\n") {
		ok := true
		for _, p := range parts {
			if !strings.Contains(line, p) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

func newLogger(w *logBuf) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
