// Package integration runs the built binaries as real processes: crash and
// restart tests that an in-process test cannot show.
package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/schedulezero/schedulezero/pkg/cluster/clustertest"
)

var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sz-integration-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	build := exec.Command("go", "build", "-o", dir+string(os.PathSeparator),
		"../../cmd/schedulezero-scheduler", "../../cmd/schedulezero-handler", "./recorder")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := func() int {
		defer os.RemoveAll(dir)
		return m.Run()
	}()
	if code == 0 {
		if err := goleak.Find(clustertest.IgnoreGoroutines()...); err != nil { // cluster_test.go embeds etcd
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// proc is a running binary whose stderr goes to a log file in the test dir.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

func start(t *testing.T, dir, name string, args ...string) *proc {
	t.Helper()
	logPath := filepath.Join(dir, fmt.Sprintf("%s-%d.log", name, time.Now().UnixNano()))
	lf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(binDir, name), args...)
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); lf.Close(); close(p.done) }()
	t.Cleanup(func() {
		p.kill(syscall.SIGKILL)
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("%s log:\n%s", name, tail(string(b), 40))
		}
	})
	return p
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// kill sends sig to the process group and waits for the process to exit.
func (p *proc) kill(sig syscall.Signal) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, sig)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

// api talks HTTP to the scheduler over its unix socket.
type api struct {
	c *http.Client
}

func newAPI(sock string) *api {
	return &api{c: &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		}},
	}}
}

func (a *api) do(method, path string, body any, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, "http://scheduler"+path, rd)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: %w: %s", method, path, err, b)
		}
	}
	if resp.StatusCode >= 300 {
		return resp.StatusCode, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	return resp.StatusCode, nil
}

func (a *api) close() { a.c.CloseIdleConnections() }

// await polls cond until it holds or the timeout passes.
func await(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// deployment is a scheduler's files in one directory.
type deployment struct {
	dir, db, zmq, sock string
}

func newDeployment(t *testing.T) deployment {
	// Unix socket paths must stay under 108 bytes: use a short temp dir.
	dir, err := os.MkdirTemp("", "sz")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return deployment{dir: dir, db: filepath.Join(dir, "sz.db"), zmq: "ipc://" + filepath.Join(dir, "zmq.sock"), sock: filepath.Join(dir, "api.sock")}
}

func (d deployment) startScheduler(t *testing.T, extra ...string) (*proc, *api) {
	t.Helper()
	p := start(t, d.dir, "schedulezero-scheduler", append([]string{"--db", d.db, "--zmq-bind", d.zmq,
		"--http-listen", "unix:" + d.sock, "--log-level", "warn"}, extra...)...)
	a := newAPI(d.sock)
	t.Cleanup(a.close)
	await(t, 20*time.Second, "the scheduler API", func() bool {
		_, err := a.do("GET", "/api/health", nil, nil)
		return err == nil
	})
	return p, a
}

func (d deployment) startHandler(t *testing.T, a *api, name string, args ...string) *proc {
	t.Helper()
	p := start(t, d.dir, "schedulezero-handler", append([]string{"--name", name, "--scheduler", d.zmq}, args...)...)
	awaitHandler(t, a, name)
	return p
}

func awaitHandler(t *testing.T, a *api, name string) {
	t.Helper()
	await(t, 20*time.Second, "handler "+name+" online", func() bool {
		var out struct {
			Handlers []struct{ ID, Status string } `json:"handlers"`
		}
		if _, err := a.do("GET", "/api/handlers", nil, &out); err != nil {
			return false
		}
		for _, h := range out.Handlers {
			if h.ID == name && h.Status == "online" {
				return true
			}
		}
		return false
	})
}
