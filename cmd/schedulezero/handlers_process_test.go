package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/governor"
)

// procRig is a real scheduler and a real governor (process backend) as
// child processes, driven through the CLI: the lifecycle of the systemd
// acceptance (test/e2e/governor_test.go) on a host without systemd.
type procRig struct {
	dir     string
	api     string
	govLog  *syncBuffer
	daemons []*exec.Cmd
}

// startDaemon starts bin with its output in log and registers a SIGTERM,
// then a bounded wait, for the end of the test.
func (r *procRig) startDaemon(t *testing.T, log *syncBuffer, bin string, args ...string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r.daemons = append(r.daemons, cmd)
}

func (r *procRig) stop(t *testing.T) {
	t.Helper()
	for i := len(r.daemons) - 1; i >= 0; i-- { // the governor first, then the scheduler
		cmd := r.daemons[i]
		cmd.Process.Signal(syscall.SIGTERM) //nolint:errcheck // it may be gone
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("%s: %v", filepath.Base(cmd.Path), err)
			}
		case <-time.After(20 * time.Second):
			cmd.Process.Kill() //nolint:errcheck // bounded stop
			<-done
			t.Errorf("%s did not stop within 20s of SIGTERM", filepath.Base(cmd.Path))
		}
	}
	r.daemons = nil
}

func (r *procRig) cli(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out, errb syncBuffer
	code := execute(ctx, append([]string{"schedulezero", "--api", r.api}, args...), &out, &errb)
	return out.String(), errb.String(), code
}

func (r *procRig) status(t *testing.T, name string) (governor.HandlerInfo, bool) {
	t.Helper()
	out, _, code := r.cli(t, "--json", "handlers", "status", name)
	var hi governor.HandlerInfo
	return hi, code == 0 && json.Unmarshal([]byte(out), &hi) == nil
}

// await polls cond every 20ms for up to 20s and returns when it held.
func (r *procRig) await(t *testing.T, what string, cond func() (bool, string)) time.Time {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ok, state := cond()
		if ok {
			return time.Now()
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 20s; last: %s\ngovernor log:\n%s", what, state, r.govLog.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// awaitLog waits for one governor log line holding every part.
func (r *procRig) awaitLog(t *testing.T, parts ...string) {
	t.Helper()
	r.await(t, fmt.Sprintf("governor log line with %q", parts), func() (bool, string) {
		for line := range strings.SplitSeq(r.govLog.String(), "\n") {
			ok := true
			for _, p := range parts {
				ok = ok && strings.Contains(line, p)
			}
			if ok {
				return true, ""
			}
		}
		return false, ""
	})
}

func TestHandlers_ProcessBackend_Lifecycle(t *testing.T) {
	bin := buildDaemons(t)
	dir, err := os.MkdirTemp("", "szp-") // short: unix socket paths
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	r := &procRig{dir: dir, api: "unix:" + filepath.Join(dir, "api.sock"), govLog: &syncBuffer{}}
	t.Cleanup(func() { r.stop(t) })
	zmq := "ipc://" + filepath.Join(dir, "zmq.sock")
	r.startDaemon(t, &syncBuffer{}, filepath.Join(bin, schedulerBin), "--db", filepath.Join(dir, "db"), "--zmq-bind", zmq,
		"--http-listen", r.api)
	r.startDaemon(t, r.govLog, filepath.Join(bin, governorBin), "--backend", "process",
		"--handler-bin", filepath.Join(bin, handlerBin), "--config-dir", filepath.Join(dir, "handlers"),
		"--api-listen", "unix:"+filepath.Join(dir, "g.sock"), "--scheduler", zmq, "--scheduler-api", r.api,
		"--check-interval", "200ms", "--failed-checks", "3", "--stop-timeout", "2s", "--log-level", "debug")
	t.Setenv("SZ_GOVERNOR", "unix:"+filepath.Join(dir, "g.sock"))
	r.await(t, "the governor's and the scheduler's APIs", func() (bool, string) {
		out, errOut, code := r.cli(t, "handlers", "list")
		return code == 0 && !strings.Contains(errOut, "view only"), out + errOut
	})

	const name = "dingaling2"
	var hi governor.HandlerInfo
	t.Run("add: running, enabled, registered", func(t *testing.T) {
		if out, errOut, code := r.cli(t, "handlers", "add", name, "--kind", "dingaling"); code != 0 {
			t.Fatalf("add: exit %d: %s%s", code, out, errOut)
		}
		r.await(t, name+" online with the scheduler and healthy", func() (bool, string) {
			out, _, _ := r.cli(t, "--json", "handlers")
			var l handlerViewList
			if json.Unmarshal([]byte(out), &l) != nil {
				return false, out
			}
			for _, h := range l.Handlers {
				if h.ID == name && h.Status == "online" && h.Governor != nil && h.Governor.Healthy {
					return true, ""
				}
			}
			return false, out
		})
		var ok bool
		if hi, ok = r.status(t, name); !ok || hi.State != governor.StateActive || !hi.Enabled || !demoAlive(hi.PID) {
			t.Fatalf("status: %+v", hi)
		}
		if _, err := os.Stat(filepath.Join(dir, "handlers", name+".json")); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("SIGKILL: detected and restarted", func(t *testing.T) {
		old, at := hi.PID, time.Now()
		if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		healthyAt := r.await(t, "a new healthy process", func() (bool, string) {
			h, ok := r.status(t, name)
			hi = h
			return ok && h.Healthy && h.PID != old, fmt.Sprintf("%+v", h)
		})
		r.awaitLog(t, `msg="handler restarted"`, "handler="+name, `reason="crashed: signal (signal SIGKILL)"`, "restarts=1")
		t.Logf("SIGKILL: healthy again after %v", healthyAt.Sub(at).Round(time.Millisecond))
	})
	t.Run("SIGSTOP: detected as hung and restarted", func(t *testing.T) {
		old, at := hi.PID, time.Now()
		if err := syscall.Kill(old, syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		healthyAt := r.await(t, "a new healthy process", func() (bool, string) {
			h, ok := r.status(t, name)
			hi = h
			return ok && h.Healthy && h.PID != old, fmt.Sprintf("%+v", h)
		})
		r.awaitLog(t, `msg="handler restarted"`, "handler="+name, `reason="hung: 3 consecutive failed pings`, "restarts=2")
		if demoAlive(old) {
			t.Errorf("the frozen pid %d survived its restart", old)
		}
		t.Logf("SIGSTOP: healthy again after %v", healthyAt.Sub(at).Round(time.Millisecond))
	})
	t.Run("the budget stops a crash loop", func(t *testing.T) {
		if out, errOut, code := r.cli(t, "handlers", "add", "crashloop", "--kind", "dingaling", "--max-restarts", "2",
			"--restart-delay", "50ms", "--endpoint", "ipc:///nonexistent/dir/x.sock"); code != 0 {
			t.Fatalf("add: exit %d: %s%s", code, out, errOut)
		}
		r.awaitLog(t, "restart budget exhausted", "handler=crashloop", "restarts=2", "max_restarts=2")
		h, ok := r.status(t, "crashloop")
		if !ok || h.Restarts != 2 || h.State != governor.StateFailed || !strings.Contains(h.LastError, "exit-code") {
			t.Fatalf("after the budget: %+v", h)
		}
		time.Sleep(time.Second) // five check intervals: a restart would show
		if again, _ := r.status(t, "crashloop"); again.Restarts != 2 || again.PID != 0 {
			t.Fatalf("restarts went on: %+v", again)
		}
	})
	t.Run("remove: stopped, cleaned", func(t *testing.T) {
		for _, n := range []string{name, "crashloop"} {
			if out, errOut, code := r.cli(t, "handlers", "remove", n); code != 0 {
				t.Fatalf("remove %s: exit %d: %s%s", n, code, out, errOut)
			}
			for _, f := range []string{n + ".json", n + ".governor"} {
				if _, err := os.Stat(filepath.Join(dir, "handlers", f)); !os.IsNotExist(err) {
					t.Errorf("%s left: %v", f, err)
				}
			}
		}
		if demoAlive(hi.PID) {
			t.Errorf("pid %d alive after remove", hi.PID)
		}
		if _, _, code := r.cli(t, "handlers", "status", name); code != exitNotFound {
			t.Errorf("status after remove: exit %d, want %d", code, exitNotFound)
		}
	})
	t.Run("stopping the governor stops its handlers", func(t *testing.T) {
		if out, errOut, code := r.cli(t, "handlers", "add", "last", "--kind", "dingaling"); code != 0 {
			t.Fatalf("add: exit %d: %s%s", code, out, errOut)
		}
		h, _ := r.status(t, "last")
		r.stop(t)
		if h.PID <= 0 || demoAlive(h.PID) {
			t.Errorf("handler pid %d after the governor stopped (alive %v)", h.PID, demoAlive(h.PID))
		}
	})
}
