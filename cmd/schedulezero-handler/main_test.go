package main

import (
	"path/filepath"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Bad input ends the handler at once with a non-zero exit, before it binds
// or registers anything.
func TestRun_BadInputExitsNonZero(t *testing.T) {
	dir := t.TempDir()
	ep := "ipc://" + filepath.Join(dir, "h.sock")
	tests := []struct {
		name string
		args []string
	}{
		{"no name", []string{"--kind", "dingaling", "--endpoint", ep}},
		{"bad log level", []string{"--name", "ding", "--kind", "dingaling", "--endpoint", ep, "--log-level", "loud"}},
		{"bad kind", []string{"--name", "ding", "--kind", "python", "--endpoint", ep}},
		{"bad name", []string{"--name", "../ding", "--kind", "dingaling", "--endpoint", ep}},
		{"missing config", []string{"--name", "ding", "--config", filepath.Join(dir, "nope.json")}},
		{"unknown flag", []string{"--name", "ding", "--port", "8888"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if code := run(append([]string{"schedulezero-handler"}, tt.args...)); code == 0 {
				t.Fatalf("run(%q) = 0, want non-zero", tt.args)
			}
		})
	}
}
