package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestScheduler_WarnsOfOpenTCP starts the real binary with a TCP listener
// and no token, the way its defaults do: its log warns, naming the
// listener and the fix.
func TestScheduler_WarnsOfOpenTCP(t *testing.T) {
	d := newDeployment(t)
	p, _ := d.startScheduler(t, "--http-listen", "127.0.0.1:0") // added to the unix socket
	b, err := os.ReadFile(p.log)
	if err != nil {
		t.Fatal(err)
	}
	var warns []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, "the API listens on TCP without a token") {
			warns = append(warns, l)
		}
	}
	if len(warns) != 1 || !strings.Contains(warns[0], "level=WARN") || !strings.Contains(warns[0], "address=127.0.0.1:") ||
		!strings.Contains(warns[0], "--api-token-file") {
		t.Errorf("warnings %q, want one at WARN for the TCP listener naming --api-token-file", warns)
	}
}

// TestScheduler_RefusesExposedTokenFile: a token file others can read
// stops the scheduler at start, with the file and the fix in its error.
func TestScheduler_RefusesExposedTokenFile(t *testing.T) {
	d := newDeployment(t)
	token := filepath.Join(d.dir, "api-token")
	if err := os.WriteFile(token, []byte("token-0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(token, 0o644); err != nil {
		t.Fatal(err)
	}
	p := start(t, d.dir, "schedulezero-scheduler", "--db", d.db, "--zmq-bind", d.zmq,
		"--http-listen", "unix:"+d.sock, "--api-token-file", token)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		t.Fatal("the scheduler still runs with a world-readable token file")
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	b, _ := os.ReadFile(p.log)
	if !strings.Contains(string(b), token) || !strings.Contains(string(b), "chmod 600 "+token) {
		t.Errorf("log %q does not name %s and the fix", b, token)
	}
}
