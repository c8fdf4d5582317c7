package main

import (
	"os"
	"strings"
	"testing"

	"github.com/schedulezero/schedulezero/pkg/version"
)

// TestVersion: the command exists (it was "No help topic", exit 3) and
// prints the release; TestDocExamples checks that a binary built by make
// carries the VERSION file's release.
func TestVersion(t *testing.T) {
	tb := setup(t)
	for _, args := range [][]string{{"version"}, {"--version"}} {
		out, errOut, code := tb.cli(t, args...)
		if code != 0 || !strings.Contains(out, version.Version) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want the release %q", args, code, out, errOut, version.Version)
		}
	}
	out, _, code := tb.cli(t, "version", "--json")
	if code != 0 || !strings.Contains(out, `"version": "`+version.Version+`"`) {
		t.Errorf("version --json: exit %d, %s", code, out)
	}
}

// releaseFile is the VERSION file's release.
func releaseFile(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../VERSION")
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}
