package scheduler_test

import (
	"os/exec"
	"strings"
	"testing"
)

// The engine owns its vocabulary: the REST layer, the HTTP client and the
// web pages depend on it, never the reverse. The wall is checked here, on
// the package graph the go command resolves, so that an import added for
// convenience fails a test rather than a review.
func TestEngineDoesNotImportItsEdges(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	const mod = "github.com/schedulezero/schedulezero/"
	edges := []string{"pkg/api", "pkg/client", "pkg/web", "pkg/schedulerd", "cmd/"}
	for _, dep := range strings.Fields(string(out)) {
		for _, e := range edges {
			if strings.HasPrefix(dep, mod+e) {
				t.Errorf("pkg/scheduler depends on %s; the edges import the engine, not the reverse", dep)
			}
		}
	}
}
