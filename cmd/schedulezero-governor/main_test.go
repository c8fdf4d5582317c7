package main

import (
	"path/filepath"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRun_BadInputExitsNonZero(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "g.sock")
	tests := []struct {
		name string
		args []string
	}{
		{"bad backend", []string{"--backend", "docker", "--api-listen", sock}},
		{"bad log level", []string{"--log-level", "loud", "--api-listen", sock}},
		{"negative failed checks", []string{"--failed-checks", "-1", "--api-listen", sock}},
		{"unknown flag", []string{"--port", "8888"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if code := run(append([]string{"schedulezero-governor"}, tt.args...)); code == 0 {
				t.Fatalf("run(%q) = 0, want non-zero", tt.args)
			}
		})
	}
}
