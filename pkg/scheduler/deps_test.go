package scheduler_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestEngineDoesNotImportREST keeps the wall between the engine and the
// REST layer: pkg/api imports the engine's vocabulary
// (pkg/scheduler/request), never the reverse, so the engine can be used
// and tested without HTTP and the API can change without touching it.
func TestEngineDoesNotImportREST(t *testing.T) {
	forbidden := []string{
		"github.com/schedulezero/schedulezero/pkg/api",
		"github.com/schedulezero/schedulezero/pkg/client",
	}
	for _, pkg := range []string{".", "./request"} {
		out, err := exec.CommandContext(t.Context(), "go", "list", "-deps", pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pkg, err)
		}
		for dep := range strings.FieldsSeq(string(out)) {
			for _, f := range forbidden {
				if dep == f || strings.HasPrefix(dep, f+"/") {
					t.Errorf("%s depends on %s: the engine must not import the REST layer", pkg, dep)
				}
			}
		}
	}
}
