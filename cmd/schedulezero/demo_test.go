package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestDemo_MissingBinariesNamesBoth(t *testing.T) {
	t.Setenv("PATH", t.TempDir()) // the test binary's own directory holds neither
	var out, errb syncBuffer
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	code := execute(ctx, []string{"schedulezero", "demo", "--duration", "1s"}, &out, &errb)
	if code != exitGeneral {
		t.Errorf("exit %d, want %d", code, exitGeneral)
	}
	for _, want := range []string{schedulerBin, governorBin, handlerBin, "make build"} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("stderr %q does not mention %q", errb.String(), want)
		}
	}
}

// TestDemo_RealProcesses builds the scheduler, governor and handler and
// runs the demo for a few seconds against them: real processes, real
// sockets, real bbolt; the handler is the governor's child (process
// backend) and none of the three outlives the demo.
func TestDemo_RealProcesses(t *testing.T) {
	bin := buildDaemons(t)
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	tests := []struct {
		name string
		keep bool
	}{{"removes dir", false}, {"keeps dir", true}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"schedulezero", "demo", "--duration", "7s", "--zmq-bind", "ipc://" + filepath.Join(t.TempDir(), "zmq.sock")}
			if tc.keep {
				args = append(args, "--keep")
			}
			var out, errb syncBuffer
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			if code := execute(ctx, args, &out, &errb); code != 0 {
				t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errb.String())
			}
			got := out.String()
			for _, want := range []string{"the governor (process backend) started handler dingaling", "scheduled quick_aling",
				"scheduled counter_test", "[dingaling]", "a-ling", "success", "counter=", "demo: stopping; "} {
				if !strings.Contains(got, want) {
					t.Errorf("output lacks %q:\n%s", want, got)
				}
			}
			if !regexp.MustCompile(`counter_test +counter_test +success .*counter=\d+`).MatchString(got) {
				t.Errorf("no finished counter_test execution in:\n%s", got)
			}
			// The summary counts what was printed.
			if sm := regexp.MustCompile(`demo: stopping; (\d+) runs, (\d+) failures, (\d+) missed`).FindStringSubmatch(got); sm == nil {
				t.Errorf("no summary in:\n%s", got)
			} else if runs, _ := strconv.Atoi(sm[1]); runs != strings.Count(got, " success ")+strings.Count(got, " error ")+strings.Count(got, " timeout ") {
				t.Errorf("summary says %s runs; the output shows otherwise:\n%s", sm[1], got)
			}
			if _, err := os.Stat(demoFilePath()); !os.IsNotExist(err) {
				t.Errorf("demo file %s left behind: %v", demoFilePath(), err)
			}
			m := regexp.MustCompile(`scheduler started in (\S+)`).FindStringSubmatch(got)
			if m == nil {
				t.Fatalf("no temp dir in output:\n%s", got)
			}
			pm := regexp.MustCompile(`started handler dingaling, pid (\d+)`).FindStringSubmatch(got)
			if pm == nil {
				t.Fatalf("no handler pid in output:\n%s", got)
			}
			if pid, _ := strconv.Atoi(pm[1]); demoAlive(pid) {
				t.Errorf("handler pid %d outlived the demo", pid)
			}
			if out, _ := exec.Command("pgrep", "-f", m[1]).Output(); len(strings.TrimSpace(string(out))) > 0 {
				t.Errorf("processes of the demo dir left: %s", out)
			}
			_, err := os.Stat(filepath.Join(m[1], "scheduler.log"))
			if tc.keep {
				if err != nil {
					t.Errorf("--keep: %v", err)
				}
				os.RemoveAll(m[1])
			} else if !os.IsNotExist(err) {
				t.Errorf("temp dir %s not removed: %v", m[1], err)
			}
		})
	}
}

func TestDemo_SchedulerFailsShowsLogTail(t *testing.T) {
	bin := t.TempDir()
	scripts := map[string]string{
		schedulerBin: "#!/bin/sh\necho 'fatal: cannot open database' >&2\nexit 1\n",
		governorBin:  "#!/bin/sh\nexit 0\n",
		handlerBin:   "#!/bin/sh\nexit 0\n",
	}
	for name, body := range scripts {
		if err := os.WriteFile(filepath.Join(bin, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", bin)
	var out, errb syncBuffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code := execute(ctx, []string{"schedulezero", "demo"}, &out, &errb)
	if code != exitGeneral {
		t.Errorf("exit %d, want %d", code, exitGeneral)
	}
	for _, want := range []string{"scheduler exited", "fatal: cannot open database", "scheduler.log"} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errb.String())
		}
	}
}

// demoAlive reports whether pid is a live, non-zombie process.
func demoAlive(pid int) bool {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(b), ')')
	return i < 0 || i+2 >= len(b) || (b[i+2] != 'Z' && b[i+2] != 'X')
}

// buildDaemons builds the scheduler, handler and governor into a temporary
// directory and returns it; with -short the test is skipped instead.
func buildDaemons(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the daemons; skipped with -short")
	}
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", bin+string(os.PathSeparator), "../schedulezero-scheduler", "../schedulezero-handler", "../schedulezero-governor")
	if out, err := build.CombinedOutput(); err != nil {
		t.Skipf("cannot build the daemons: %v\n%s", err, out)
	}
	return bin
}

// TestDemo_CtrlC: Ctrl-C in a terminal signals the demo's whole process
// group. The demo stops its daemons itself, handler first; they must not
// take the signal too, or the demo may see one exit before it sees its own
// signal and report a failure ("scheduler exited", exit 1). A few rounds,
// since that was a race.
func TestDemo_CtrlC(t *testing.T) {
	bin := buildDaemons(t)
	if out, err := exec.Command("go", "build", "-o", bin+string(os.PathSeparator), ".").CombinedOutput(); err != nil {
		t.Skipf("cannot build schedulezero: %v\n%s", err, out)
	}
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir()) // the demo file of this test only
	for round := range 3 {
		cmd := exec.Command(filepath.Join(bin, "schedulezero"), "demo", "--zmq-bind", "ipc://"+filepath.Join(t.TempDir(), "zmq.sock"))
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // a group of its own, like a terminal's job
		var out syncBuffer
		cmd.Stderr = &out
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		following := make(chan struct{})
		copied := make(chan struct{})
		go func() {
			defer close(copied)
			sc := bufio.NewScanner(stdout)
			seen := false
			for sc.Scan() {
				fmt.Fprintln(&out, sc.Text())
				if !seen && strings.Contains(sc.Text(), "following executions") {
					seen = true
					close(following)
				}
			}
		}()
		select {
		case <-following:
		case <-time.After(60 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			t.Fatalf("round %d: the demo did not start:\n%s", round, out.String())
		}
		if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
		waited := make(chan error, 1)
		go func() { <-copied; waited <- cmd.Wait() }()
		select {
		case err = <-waited:
		case <-time.After(60 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			t.Fatalf("round %d: the demo did not stop on Ctrl-C:\n%s", round, out.String())
		}
		if err != nil || !strings.Contains(out.String(), "demo: stopping") || strings.Contains(out.String(), "exited") {
			t.Fatalf("round %d: Ctrl-C: %v; want exit 0 and \"demo: stopping\":\n%s", round, err, out.String())
		}
	}
}
