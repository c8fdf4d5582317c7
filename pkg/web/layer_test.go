package web_test

import (
	"os/exec"
	"strings"
	"testing"
)

// The dashboard reaches the governor through the governor's client; the
// governor (its core, its client, its daemon) never depends on the
// dashboard or on the scheduler's daemon that serves it.
func TestGovernorDoesNotImportTheDashboard(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "../governor/...", "../governord/...").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	const mod = "github.com/schedulezero/schedulezero/"
	for _, dep := range strings.Fields(string(out)) {
		for _, e := range []string{"pkg/web", "pkg/schedulerd"} {
			if dep == mod+e || strings.HasPrefix(dep, mod+e+"/") {
				t.Errorf("the governor's packages depend on %s; the dashboard imports the governor's client, not the reverse", dep)
			}
		}
	}
}
