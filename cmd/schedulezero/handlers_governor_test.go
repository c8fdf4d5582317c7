package main

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/governor"
	"github.com/schedulezero/schedulezero/pkg/governor/governortest"
	"github.com/schedulezero/schedulezero/pkg/governord"
)

// govServe runs the governor's real API and Supervisor over the fake
// units on a unix socket and returns its address.
func govServe(t *testing.T) (string, *governortest.Fake) {
	t.Helper()
	fake := governortest.NewFake()
	sup, err := governor.New(governor.Options{Units: fake, Backend: "fake", ConfigDir: t.TempDir(),
		CheckInterval: 20 * time.Millisecond,
		PingFunc:      func(context.Context, string, string) error { return nil },
		EndpointFunc:  func(name string) (string, error) { return "tcp://127.0.0.1:47001", nil }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := sup.Start(ctx); err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "gov-cli-") // short: a unix socket path has ~100 bytes
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "g.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: governord.NewAPI(sup, nil), ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	}()
	t.Cleanup(func() {
		srv.Close()
		<-done
		if err := sup.Stop(context.Background(), time.Second); err != nil {
			t.Errorf("stop: %v", err)
		}
		os.RemoveAll(dir)
	})
	return "unix:" + sock, fake
}

func TestHandlersGoverned(t *testing.T) {
	tb := setup(t) // the scheduler knows "dingaling"
	gov, fake := govServe(t)
	run := func(args ...string) (string, string, int) {
		return tb.cli(t, append([]string{"handlers", "--governor", gov}, args...)...)
	}
	steps := []struct {
		name   string
		args   []string
		code   int
		stdout []string // regexps
		stderr string
	}{
		{"add", []string{"add", "ding2", "--kind", "dingaling", "--max-restarts", "2"}, 0,
			[]string{`^added ding2: schedulezero-handler@ding2.service active/running, pid \d+, endpoint tcp://127.0.0.1:47001\n$`}, ""},
		{"add duplicate", []string{"add", "ding2", "--kind", "dingaling"}, exitConflict, nil, "already exists"},
		{"add bad kind names the field", []string{"add", "x", "--kind", "python"}, exitUsage, nil, `kind: "python" is not a handler kind`},
		{"add bad name names the field", []string{"add", "a/b", "--kind", "dingaling"}, exitUsage, nil, "name:"},
		{"add without kind", []string{"add", "x"}, exitUsage, nil, "--kind is required"},
		{"add bad methods", []string{"add", "x", "--kind", "exec", "--methods", "{"}, exitUsage, nil, "--methods"},
		{"list merges both views", []string{"list"}, 0, []string{
			`(?m)^ID +STATUS +UNIT +PID +HEALTH +PING EWMA/P99 +PING ERRORS +RESTARTS +LAST SEEN +METHODS$`,
			`(?m)^ding2 +unregistered +active/running +\d+ +(healthy|starting) +`,
			`(?m)^dingaling +online +- +- +- +`}, ""},
		{"status", []string{"status", "ding2"}, 0, []string{`(?m)^unit: +schedulezero-handler@ding2.service$`,
			`(?m)^enabled: +yes$`, `(?m)^state: +active/running$`, `(?m)^restarts: +0$`}, ""},
		{"status unknown", []string{"status", "nope"}, exitNotFound, nil, "handler not found"},
		{"stop", []string{"stop", "ding2", "--stop-timeout", "2s"}, 0, []string{`^stopped ding2: .* inactive/dead, pid -`}, ""},
		{"start", []string{"start", "ding2"}, 0, []string{`^started ding2: .* active/running, pid \d+`}, ""},
		{"restart", []string{"restart", "ding2"}, 0, []string{`^restarted ding2: .* active/running`}, ""},
		{"remove", []string{"remove", "ding2"}, 0, []string{`^removed ding2: stopped, disabled, configuration deleted\n$`}, ""},
		{"remove again", []string{"remove", "ding2"}, exitNotFound, nil, "handler not found"},
		{"restart without a name", []string{"restart"}, exitUsage, nil, "expected exactly one handler NAME"},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			out, errOut, code := run(st.args...)
			if code != st.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, st.code, out, errOut)
			}
			for _, re := range st.stdout {
				if !regexp.MustCompile(re).MatchString(out) {
					t.Errorf("stdout lacks %s:\n%s", re, out)
				}
			}
			if !strings.Contains(errOut, st.stderr) {
				t.Errorf("stderr lacks %q:\n%s", st.stderr, errOut)
			}
		})
	}
	if got := fake.Starts("ding2"); got != 3 {
		t.Errorf("the fake saw %d starts; want add, start and restart", got)
	}
}

func TestHandlersGoverned_JSON(t *testing.T) {
	tb := setup(t)
	gov, _ := govServe(t)
	if _, errOut, code := tb.cli(t, "handlers", "--governor", gov, "add", "ding2", "--kind", "dingaling"); code != 0 {
		t.Fatalf("add: exit %d: %s", code, errOut)
	}
	out, errOut, code := tb.cli(t, "--json", "handlers", "--governor", gov)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var got handlerViewList
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if len(got.Handlers) != 2 {
		t.Fatalf("handlers = %+v", got.Handlers)
	}
	d, g := got.Handlers[0], got.Handlers[1]
	if d.ID != "ding2" || d.Status != statusUnregistered || d.Governor == nil || d.Governor.Unit != "schedulezero-handler@ding2.service" {
		t.Errorf("ding2 = %+v", d)
	}
	if g.ID != "dingaling" || g.Status != "online" || g.Governor != nil || g.LatencyMS != 2.25 {
		t.Errorf("dingaling = %+v", g)
	}
	// The scheduler's fields keep their names, so scripts reading
	// handlers[].id and .status work with or without the governor.
	for _, key := range []string{`"id": "dingaling"`, `"status": "online"`, `"governor": {`} {
		if !strings.Contains(out, key) {
			t.Errorf("JSON lacks %s:\n%s", key, out)
		}
	}
	out, _, code = tb.cli(t, "--json", "handlers", "--governor", gov, "status", "ding2")
	var hi governor.HandlerInfo
	if code != 0 || json.Unmarshal([]byte(out), &hi) != nil || hi.Name != "ding2" || hi.PID <= 0 {
		t.Fatalf("status --json: exit %d, %+v\n%s", code, hi, out)
	}
}

// TestHandlersGoverned_Unreachable: the list falls back to the scheduler's
// view (with a warning when the governor was named), the changes fail
// with the unreachable exit code.
func TestHandlersGoverned_Unreachable(t *testing.T) {
	tb := setup(t)
	gone := "unix:" + filepath.Join(t.TempDir(), "none.sock")
	out, errOut, code := tb.cli(t, "handlers", "--governor", gone)
	if code != 0 || !strings.Contains(out, "dingaling  online") || !strings.Contains(errOut, "showing the scheduler's view only") {
		t.Fatalf("list: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	t.Setenv("SZ_GOVERNOR", gone)
	_, errOut, code = tb.cli(t, "handlers", "add", "x", "--kind", "dingaling")
	if code != exitUnreachable || !strings.Contains(errOut, "is schedulezero-governor running?") {
		t.Fatalf("add: exit %d: %s", code, errOut)
	}
}
