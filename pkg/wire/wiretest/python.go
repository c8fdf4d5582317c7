package wiretest

import (
	"os/exec"
	"testing"
)

// Python returns a python3 that can import zmq, for tests that run the
// original's handler, or skips the test. Debian's python3-zmq lives under
// /usr/bin/python3, which may not be first on PATH.
func Python(t *testing.T) string {
	t.Helper()
	cands := []string{"/usr/bin/python3"}
	if p, err := exec.LookPath("python3"); err == nil {
		cands = append(cands, p)
	}
	for _, p := range cands {
		if exec.Command(p, "-c", "import zmq").Run() == nil {
			return p
		}
	}
	t.Skip("skipping: no python3 with the zmq module (apt-get install python3-zmq)")
	return ""
}
