package exec_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/field"
	"github.com/schedulezero/schedulezero/pkg/handler"
	"github.com/schedulezero/schedulezero/pkg/handler/exec"
	"github.com/schedulezero/schedulezero/pkg/handlername"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func sh(script string) exec.Command { return exec.Command{Command: []string{"/bin/sh", "-c", script}} }

func run(t *testing.T, c exec.Command, job handler.Job) (exec.Result, error) {
	t.Helper()
	r, err := exec.New(map[string]exec.Command{"m": c}, nil)
	if err != nil {
		t.Fatal(err)
	}
	mux := handler.NewMux()
	r.Register(mux)
	job.Method = "m"
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := mux.ServeJob(ctx, &job)
	if err != nil {
		var re *exec.RunError
		if !errors.As(err, &re) {
			t.Fatalf("error %v is not a *RunError", err)
		}
		return re.Res, err
	}
	return out.(exec.Result), nil
}

func TestRun_Success(t *testing.T) {
	c := sh(`cat; echo "$SZ_PARAM_NAME|$SZ_PARAM_N|$SZ_PARAM_OK|$SZ_PARAM_DASH_KEY|${SZ_PARAM_OBJ-unset}|$SZ_EXECUTION_ID|$SZ_SCHEDULE_ID|$SZ_ATTEMPT|$SZ_METHOD|$SZ_HANDLER|$FOO|$(pwd)"; echo warn >&2`)
	c.Env = map[string]string{"FOO": "bar"}
	c.Dir = t.TempDir()
	res, err := run(t, c, handler.Job{Params: json.RawMessage(`{"name":"x y","n":3,"ok":true,"dash-key":"d","obj":{"a":1}}`),
		ExecutionID: "e1", ScheduleID: "nightly", Attempt: 2, Handler: "scripts"})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(res.Stdout), "\n")
	if len(lines) != 2 {
		t.Fatalf("stdout %q", res.Stdout)
	}
	var stdin map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &stdin); err != nil || stdin["name"] != "x y" {
		t.Errorf("params on stdin: %q %v", lines[0], err)
	}
	want := "x y|3|true|d|unset|e1|nightly|2|m|scripts|bar|" + c.Dir
	if lines[1] != want {
		t.Errorf("env line\n got %q\nwant %q", lines[1], want)
	}
	if res.ExitCode != 0 || res.Stderr != "warn\n" {
		t.Errorf("result %+v", res)
	}
}

func TestRun_Failures(t *testing.T) {
	for _, tc := range []struct {
		name      string
		cmd       exec.Command
		wantCode  int
		wantErr   string
		permanent bool
	}{
		{"non-zero exit", sh(`echo partial; echo "disk full" >&2; exit 3`), 3, "exit status 3: disk full", false},
		{"missing program", exec.Command{Command: []string{"/nonexistent/prog"}}, -1, "no such file", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := run(t, tc.cmd, handler.Job{})
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
			}
			if res.ExitCode != tc.wantCode {
				t.Errorf("exit code %d, want %d", res.ExitCode, tc.wantCode)
			}
			if handler.IsPermanent(err) != tc.permanent {
				t.Errorf("permanent = %v", handler.IsPermanent(err))
			}
		})
	}
}

func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return syscall.Kill(pid, 0) == nil
	}
	// A zombie is dead; it only waits for its reaper.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	return len(f) > 0 && f[0] != "Z"
}

func TestRun_TimeoutKillsProcessGroup(t *testing.T) {
	dir := t.TempDir()
	c := sh(`sleep 300 & echo $! > ` + dir + `/grandchild; echo $$ > ` + dir + `/child; wait`)
	c.Timeout = handlername.Duration(300 * time.Millisecond)
	start := time.Now()
	res, err := run(t, c, handler.Job{})
	if err == nil || !strings.Contains(err.Error(), "killed after the method's 300ms timeout") {
		t.Fatalf("err = %v, want killed after the method's timeout", err)
	}
	if !handler.IsTimeout(err) {
		t.Errorf("err = %v is not marked handler.Timeout: the scheduler would record error, not timeout", err)
	}
	if el := time.Since(start); el > 8*time.Second {
		t.Errorf("run took %v", el)
	}
	if res.ExitCode != -1 {
		t.Errorf("exit code %d, want -1 (signaled)", res.ExitCode)
	}
	for _, name := range []string{"child", "grandchild"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		deadline := time.Now().Add(5 * time.Second)
		for alive(pid) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if alive(pid) {
			t.Errorf("%s %d still alive", name, pid)
		}
	}
}

func TestRun_CancelKills(t *testing.T) {
	r, _ := exec.New(map[string]exec.Command{"m": sh(`sleep 300`)}, nil)
	mux := handler.NewMux()
	r.Register(mux)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := mux.ServeJob(ctx, &handler.Job{Method: "m"})
	if err == nil || time.Since(start) > 8*time.Second {
		t.Errorf("canceled run: %v after %v", err, time.Since(start))
	}
}

func TestRun_OutputIsBounded(t *testing.T) {
	res, err := run(t, sh(`head -c 100000 /dev/zero | tr '\0' a; head -c 70000 /dev/zero | tr '\0' b >&2`), handler.Job{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, out string
		dropped   int
	}{{"stdout", res.Stdout, 100000 - exec.OutputLimit}, {"stderr", res.Stderr, 70000 - exec.OutputLimit}} {
		suffix := "\n[truncated: " + strconv.Itoa(tc.dropped) + " more bytes]"
		if !strings.HasSuffix(tc.out, suffix) || len(tc.out) != exec.OutputLimit+len(suffix) {
			t.Errorf("%s: len %d, tail %q", tc.name, len(tc.out), tc.out[len(tc.out)-40:])
		}
	}
}

func TestNew_Validation(t *testing.T) {
	for _, tc := range []struct {
		name    string
		methods map[string]exec.Command
		field   string
	}{
		{"none", nil, "methods"},
		{"empty command", map[string]exec.Command{"a": {}}, "methods.a.command"},
		{"reserved", map[string]exec.Command{"ping": sh("true")}, "methods.ping"},
		{"bad env", map[string]exec.Command{"a": {Command: []string{"/bin/true"}, Env: map[string]string{"A=B": "x"}}}, "methods.a.env"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := exec.New(tc.methods, nil)
			var fe *field.Error
			if !errors.As(err, &fe) || fe.Field != tc.field {
				t.Errorf("err = %v, want a field error on %s", err, tc.field)
			}
		})
	}
}

func TestDuration_JSON(t *testing.T) {
	var c exec.Command
	if err := json.Unmarshal([]byte(`{"command":["/bin/true"],"timeout":"5m"}`), &c); err != nil || time.Duration(c.Timeout) != 5*time.Minute {
		t.Errorf("timeout %v %v", c.Timeout, err)
	}
	if err := json.Unmarshal([]byte(`{"timeout":300}`), &c); err == nil {
		t.Error("numeric timeout accepted")
	}
}
