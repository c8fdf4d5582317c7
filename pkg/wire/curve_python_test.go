package wire_test

import (
	"bufio"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4/security/curve"

	"github.com/schedulezero/schedulezero/pkg/wire"
	"github.com/schedulezero/schedulezero/pkg/wire/wiretest"
)

// pythonCurve returns a python3 whose zmq has CURVE, or skips the test.
func pythonCurve(t *testing.T) string {
	t.Helper()
	py := wiretest.Python(t)
	if exec.Command(py, "-c", "import sys, zmq; sys.exit(0 if zmq.has('curve') else 1)").Run() != nil {
		t.Skip("skipping: python3's zmq has no CURVE (Debian's python3-zmq has it)")
	}
	return py
}

// curvePy is testdata/curve_handler.py running: a pyzmq handler whose
// registration and job sockets are CURVE clients of the scheduler's key.
type curvePy struct {
	cmd    *exec.Cmd
	close  func() error // closes its stdin: it stops
	lines  *bufio.Scanner
	stderr *strings.Builder
}

func startCurvePy(t *testing.T, py, scheduler, id string, server curve.PublicKey, secret curve.SecretKey) *curvePy {
	t.Helper()
	cmd := exec.CommandContext(ctxT(t, 20*time.Second), py, "testdata/curve_handler.py", scheduler, "tcp://127.0.0.1:*", id)
	cmd.Env = append(cmd.Environ(), "SZ_CURVE_SERVERKEY="+server.String(), "SZ_CURVE_SECRETKEY="+secret.Z85())
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	p := &curvePy{cmd: cmd, close: stdin.Close, lines: bufio.NewScanner(stdout), stderr: &strings.Builder{}}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); cmd.Wait() })
	return p
}

// line is the next line the handler prints ("" when it ended).
func (p *curvePy) line() string {
	if !p.lines.Scan() {
		return ""
	}
	return p.lines.Text()
}

// A pyzmq handler (libzmq's CURVE, keys set as docs/security.md shows)
// registers with our CURVE server and answers a job the scheduler side
// sends it over CURVE, our side the CURVE server on the connection it
// dials to the handler's bound job socket. The same handler with a key
// not on the allow-list is refused in the handshake (libzmq reports the
// server's ERROR 400 as an authentication failure) and never registers.
func TestCurve_PyzmqHandlerRegistersAndRunsJob(t *testing.T) {
	py := pythonCurve(t)
	serverPub, serverSec := keyPair(t)
	allowedPub, allowedSec := keyPair(t)
	_, otherSec := keyPair(t)
	curveServer := wire.WithCurveServer(serverSec, []curve.PublicKey{allowedPub})
	reg := wiretest.NewRegistry()
	srv := wiretest.ServeOn(t, reg, "tcp://127.0.0.1:0", curveServer)

	refused := startCurvePy(t, py, srv.Addr(), "py-refused", serverPub, otherSec)
	if got := refused.line(); got != "REFUSED HANDSHAKE_FAILED_AUTH 400" {
		t.Fatalf("handler with a key not allowed said %q, want REFUSED HANDSHAKE_FAILED_AUTH 400; stderr: %s", got, refused.stderr)
	}
	if n := reg.Registrations(); n != 0 {
		t.Fatalf("%d registrations reached the registry from a key not allowed", n)
	}

	p := startCurvePy(t, py, srv.Addr(), "py-curve", serverPub, allowedSec)
	ready := p.line()
	addr, ok := strings.CutPrefix(ready, "READY ")
	if !ok {
		t.Fatalf("handler with an allowed key said %q; stderr: %s", ready, p.stderr)
	}
	if h, status, ok := reg.Handler("py-curve"); !ok || h.Address != addr || status != "registered" {
		t.Fatalf("registry has %+v %q %v, want py-curve at %s", h, status, ok, addr)
	}

	c := wire.Dial(addr, 0, nil, curveServer) // as the scheduler dials handlers
	defer c.Close()
	r, err := c.Call(ctxT(t, 10*time.Second), wire.Request{Method: "counter_test", Params: json.RawMessage(`{"increment":2}`), ExecutionID: "e-curve", Attempt: 1})
	if err != nil || !r.Success {
		t.Fatalf("job over CURVE: %+v %v; stderr: %s", r, err, p.stderr)
	}
	var body struct {
		Status      string `json:"status"`
		ExecutionID string `json:"execution_id"`
		Increment   int    `json:"increment"`
	}
	if err := json.Unmarshal(r.Raw, &body); err != nil || body.Status != "counted" || body.ExecutionID != "e-curve" || body.Increment != 2 {
		t.Errorf("job reply %s (%v), want counted for e-curve with increment 2", r.Raw, err)
	}

	p.close()
	if got := p.line(); got != "STOPPED" {
		t.Errorf("handler said %q at stop; stderr: %s", got, p.stderr)
	}
	if err := p.cmd.Wait(); err != nil {
		t.Errorf("handler exit: %v; stderr: %s", err, p.stderr)
	}
	if _, _, ok := reg.Handler("py-refused"); ok || reg.Registrations() != 1 {
		t.Errorf("registrations = %d (py-refused present: %v), want only py-curve", reg.Registrations(), ok)
	}
}
