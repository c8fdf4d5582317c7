package api_test

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/schedulezero/schedulezero/pkg/api"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestAPI_LogsRequestsAtDebugAndInternalErrors(t *testing.T) {
	var buf lockedBuffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	tb := setup(t, api.Options{Logger: log})
	tb.b.Fail("Stats", errors.New("disk on fire"))
	tests := []struct {
		path string
		want []string
	}{
		{"/api/health", []string{"level=DEBUG", `msg="http request"`, "component=api", "method=GET", "path=/api/health", "status=200", "duration_ms="}},
		{"/api/v1/stats", []string{"level=ERROR", `msg="request failed"`, `err="disk on fire"`, "status=500"}},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			tb.do(t, "GET", tc.path, "")
			// The log line is written before the response is complete.
			got := buf.String()
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("log lacks %q:\n%s", w, got)
				}
			}
		})
	}
}
