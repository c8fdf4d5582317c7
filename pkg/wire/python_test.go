package wire_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/wire"
	"github.com/schedulezero/schedulezero/pkg/wire/wiretest"
)

// pyHandler is testdata/original_handler.py, a handler written like the
// original's, as a running process: it prints a line when it registered
// (or was refused) and one when it stopped; closing stdin stops it.
type pyHandler struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  *bufio.Scanner
	stderr *strings.Builder
}

func startPython(ctx context.Context, t *testing.T, py, scheduler, addr string) *pyHandler {
	t.Helper()
	cmd := exec.CommandContext(ctx, py, "testdata/original_handler.py", scheduler, addr, "py-handler")
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	p := &pyHandler{cmd: cmd, stdin: stdin, lines: bufio.NewScanner(stdout), stderr: &strings.Builder{}}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestOriginalPythonHandler runs a handler written like the original's
// against our Server, serves a protocol 0 Conn call and stops cleanly.
func TestOriginalPythonHandler(t *testing.T) {
	py := wiretest.Python(t)
	reg := wiretest.NewRegistry()
	srv := wiretest.Serve(t, reg)
	addr := wiretest.IPC(t, "py.sock")
	ctx := ctxT(t, 30*time.Second)
	p := startPython(ctx, t, py, srv.Addr(), addr)
	cmd, stdin, lines, stderr := p.cmd, p.stdin, p.lines, p.stderr
	if !lines.Scan() || lines.Text() != "READY registered" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("handler said %q, stderr: %s", lines.Text(), stderr.String())
	}
	h, status, ok := reg.Handler("py-handler")
	if !ok || h.Address != addr || status != "registered" || h.Protocol != 0 {
		t.Errorf("registry has %+v %q", h, status)
	}

	c := wire.Dial(addr, 0, nil)
	defer c.Close()
	for i, tc := range []struct {
		method string
		want   string
	}{
		{"quick_aling", "a-ling"},
		{"counter_test", "counted"},
	} {
		r, err := c.Call(ctx, wire.Request{Method: tc.method, Params: json.RawMessage(`{"increment":2}`), ExecutionID: "e1", Attempt: 1})
		if err != nil || !r.Success {
			t.Fatalf("%s: %+v %v", tc.method, r, err)
		}
		var body struct {
			Status  string
			Counter int
		}
		json.Unmarshal(r.Raw, &body)
		if body.Status != tc.want || body.Counter != i+1 {
			t.Errorf("%s: %s", tc.method, r.Raw)
		}
	}
	r, err := c.Call(ctx, wire.Request{Method: "ping", Params: json.RawMessage(`{}`)})
	if err != nil || string(r.Raw) != `{"success": true, "message": "pong", "handler_id": "py-handler"}` {
		t.Errorf("ping: %s %v", r.Raw, err)
	}

	stdin.Close() // stop: the handler reports offline
	if !lines.Scan() || lines.Text() != "STOPPED" {
		t.Errorf("handler said %q, stderr: %s", lines.Text(), stderr.String())
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("handler exit: %v, stderr: %s", err, stderr.String())
	}
	if _, status, _ := reg.Handler("py-handler"); status != "offline" {
		t.Errorf("status after stop = %q, want offline", status)
	}
}
