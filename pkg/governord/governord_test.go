package governord_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apiclient "github.com/schedulezero/schedulezero/pkg/client"
	"github.com/schedulezero/schedulezero/pkg/governor"
	"github.com/schedulezero/schedulezero/pkg/governor/client"
	"github.com/schedulezero/schedulezero/pkg/governord"
	"github.com/schedulezero/schedulezero/pkg/wire/wiretest"
	"go.uber.org/goleak"
)

var handlerBin, governorBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "governord-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	handlerBin = filepath.Join(dir, "schedulezero-handler")
	if out, err := exec.Command("go", "build", "-o", handlerBin, "github.com/schedulezero/schedulezero/cmd/schedulezero-handler").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build schedulezero-handler: %v\n%s", err, out)
		os.Exit(2)
	}
	governorBin = filepath.Join(dir, "schedulezero-governor")
	if out, err := exec.Command("go", "build", "-o", governorBin, "github.com/schedulezero/schedulezero/cmd/schedulezero-governor").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build schedulezero-governor: %v\n%s", err, out)
		os.Exit(2)
	}
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		os.RemoveAll(dir) //nolint:errcheck // best effort
		os.Exit(code)
	}))
}

func opts(t *testing.T, sched string) governord.Options {
	dir := t.TempDir()
	return governord.Options{Backend: governord.BackendProcess, ConfigDir: filepath.Join(dir, "handlers"),
		HandlerBin: handlerBin, Scheduler: sched, APIListen: "unix:" + filepath.Join(dir, "governor.sock"),
		CheckInterval: 100 * time.Millisecond, StopTimeout: 2 * time.Second,
		Logger: slog.New(slog.DiscardHandler)}
}

func TestDaemon_API(t *testing.T) {
	reg := wiretest.NewRegistry()
	srv := wiretest.Serve(t, reg)
	d, err := governord.New(opts(t, srv.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Stop(context.Background()); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	if d.Backend() != governord.BackendProcess {
		t.Fatalf("backend = %q", d.Backend())
	}
	c, err := client.New("unix:" + d.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	hi, err := c.Add(ctx, governor.HandlerConfig{Name: "ding", Kind: "dingaling"})
	if err != nil {
		t.Fatal(err)
	}
	if hi.Name != "ding" || hi.PID <= 0 || hi.Unit != "schedulezero-handler@ding.service" {
		t.Fatalf("add = %+v", hi)
	}
	if err := reg.Await(ctx, func(r *wiretest.Registry) bool { _, _, ok := r.Handler("ding"); return ok }); err != nil {
		t.Fatal(err)
	}
	for !hi.Healthy {
		if hi, err = c.Status(ctx, "ding"); err != nil {
			t.Fatal(err)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("never healthy: %+v", hi)
		case <-time.After(20 * time.Millisecond):
		}
	}
	if s := d.Summary(ctx); s != "1 handlers, 1 healthy, 0 restarts" {
		t.Fatalf("summary = %q", s)
	}
	if err := d.Health(ctx); err != nil {
		t.Fatalf("health: %v", err)
	}
	text := scrapeUnix(t, d.Addr())
	for _, want := range []string{
		"schedulezero_governor_handlers 1",
		`schedulezero_governor_handler_state{handler="ding",state="active"} 1`,
		`schedulezero_governor_handler_state{handler="ding",state="failed"} 0`,
		`schedulezero_governor_handler_healthy{handler="ding"} 1`,
		`schedulezero_governor_handler_restarts_total{handler="ding"} 0`,
	} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("governor /metrics lacks %q:\n%s", want, text)
		}
	}

	errTests := []struct {
		name   string
		call   func() error
		status int
		field  string
	}{
		{"bad kind", func() error { _, err := c.Add(ctx, governor.HandlerConfig{Name: "x", Kind: "python"}); return err }, 400, "kind"},
		{"bad name", func() error { _, err := c.Add(ctx, governor.HandlerConfig{Name: "a/b", Kind: "dingaling"}); return err }, 400, "name"},
		{"duplicate", func() error {
			_, err := c.Add(ctx, governor.HandlerConfig{Name: "ding", Kind: "dingaling"})
			return err
		}, 409, "name"},
		{"unknown status", func() error { _, err := c.Status(ctx, "nope"); return err }, 404, "name"},
		{"unknown remove", func() error { return c.Remove(ctx, "nope", 0) }, 404, "name"},
		{"unknown restart", func() error { _, err := c.Restart(ctx, "nope"); return err }, 404, "name"},
	}
	for _, tt := range errTests {
		t.Run(tt.name, func(t *testing.T) {
			var ae *apiclient.APIError
			if err := tt.call(); !errors.As(err, &ae) || ae.Status != tt.status || ae.Field != tt.field {
				t.Fatalf("err = %v (%+v), want %d naming %q", err, ae, tt.status, tt.field)
			}
		})
	}

	list, err := c.List(ctx)
	if err != nil || len(list) != 1 || list[0].Name != "ding" {
		t.Fatalf("list = %+v, %v", list, err)
	}
	if hi, err = c.Stop(ctx, "ding", time.Second); err != nil || hi.State != governor.StateInactive {
		t.Fatalf("stop = %+v, %v", hi, err)
	}
	if hi, err = c.Start(ctx, "ding"); err != nil || hi.State != governor.StateActive {
		t.Fatalf("start = %+v, %v", hi, err)
	}
	old := hi.PID
	if hi, err = c.Restart(ctx, "ding"); err != nil || hi.PID == old || hi.PID <= 0 {
		t.Fatalf("restart = %+v, %v (old pid %d)", hi, err, old)
	}
	m, err := c.Metrics(ctx)
	if err != nil || m.TotalServices != 1 || m.Backend != "process" {
		t.Fatalf("metrics = %+v, %v", m, err)
	}
	if err := c.Remove(ctx, "ding", time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join("/proc", fmt.Sprint(hi.PID))); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("pid %d still in /proc after remove (%v)", hi.PID, err)
	}
}

func TestDaemon_API_UnknownField(t *testing.T) {
	d, err := governord.New(opts(t, "tcp://127.0.0.1:1"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer d.Stop(context.Background()) //nolint:errcheck // nothing runs
	conn, err := net.Dial("unix", d.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := `{"name":"x","kind":"dingaling","port":4247}`
	fmt.Fprintf(conn, "POST /v1/handlers HTTP/1.1\r\nHost: g\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(body), body)
	conn.SetReadDeadline(time.Now().Add(5 * time.Second)) //nolint:errcheck // the read fails on its own
	resp, err := io.ReadAll(conn)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(resp), "400 Bad Request") || !strings.Contains(string(resp), `"field":"port"`) {
		t.Fatalf("response:\n%s", resp)
	}
}

func TestDaemon_StopBeforeStart(t *testing.T) {
	d, err := governord.New(opts(t, ""))
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := d.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

func TestNew_BadBackend(t *testing.T) {
	o := opts(t, "")
	o.Backend = "docker"
	if _, err := governord.New(o); err == nil || !strings.Contains(err.Error(), "backend") {
		t.Fatalf("New = %v, want a backend field error", err)
	}
}

// TestRun_Notify runs the whole daemon against a NOTIFY_SOCKET and checks
// READY=1, the STATUS= line and STOPPING=1.
func TestRun_Notify(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify.sock")
	pc, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	t.Setenv("NOTIFY_SOCKET", sock)
	o := opts(t, "tcp://127.0.0.1:1")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- governord.Run(ctx, o) }()
	want := []string{"READY=1", "STATUS=0 handlers, 0 healthy, 0 restarts"}
	buf := make([]byte, 4096)
	for len(want) > 0 {
		pc.SetReadDeadline(time.Now().Add(10 * time.Second)) //nolint:errcheck // the read fails on its own
		n, err := pc.Read(buf)
		if err != nil {
			cancel()
			<-done
			t.Fatalf("waiting for %q: %v", want, err)
		}
		if strings.Contains(string(buf[:n]), want[0]) {
			want = want[1:]
		}
	}
	cancel()
	for {
		pc.SetReadDeadline(time.Now().Add(10 * time.Second)) //nolint:errcheck // the read fails on its own
		n, err := pc.Read(buf)
		if err != nil {
			t.Fatalf("no STOPPING=1: %v", err)
		}
		if strings.Contains(string(buf[:n]), "STOPPING=1") {
			break
		}
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return")
	}
}

// TestBinary_KillNineLeavesNoOrphan SIGKILLs the governor binary: its
// handlers die with it (parent-death signal), so none is orphaned.
func TestBinary_KillNineLeavesNoOrphan(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "g.sock")
	cmd := exec.Command(governorBin, "--backend", "process", "--handler-bin", handlerBin,
		"--config-dir", filepath.Join(dir, "h"), "--api-listen", sock, "--scheduler-api", "",
		"--scheduler", "tcp://127.0.0.1:1")
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waited := false
	defer func() {
		if !waited {
			cmd.Process.Kill() //nolint:errcheck // cleanup after a failure
			cmd.Wait()         //nolint:errcheck // cleanup after a failure
		}
	}()
	c, err := client.New("unix:" + sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var hi governor.HandlerInfo
	for {
		if hi, err = c.Add(ctx, governor.HandlerConfig{Name: "ding", Kind: "dingaling"}); err == nil {
			break
		}
		if !errors.Is(err, client.ErrUnreachable) {
			t.Fatal(err)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("governor never answered: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	if err := cmd.Process.Signal(os.Kill); err != nil {
		t.Fatal(err)
	}
	cmd.Wait() //nolint:errcheck // killed on purpose
	waited = true
	for alive(hi.PID) {
		select {
		case <-ctx.Done():
			t.Fatalf("handler pid %d outlived the SIGKILLed governor", hi.PID)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// alive reports whether pid is a live, non-zombie process.
func alive(pid int) bool {
	b, err := os.ReadFile(filepath.Join("/proc", fmt.Sprint(pid), "stat"))
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(b), ')')
	return i < 0 || i+2 >= len(b) || (b[i+2] != 'Z' && b[i+2] != 'X')
}

func TestRuntimeEndpoint(t *testing.T) {
	f := governord.RuntimeEndpoint("/run/schedulezero")
	tests := []struct {
		name, want string
	}{
		{"ding", "ipc:///run/schedulezero/handler-ding.sock"},
		{strings.Repeat("x", 100), "tcp://127.0.0.1:"},
	}
	for _, tt := range tests {
		got, err := f(tt.name)
		if err != nil || !strings.HasPrefix(got, tt.want) {
			t.Errorf("endpoint(%.10s…) = %q, %v; want %s…", tt.name, got, err, tt.want)
		}
	}
}
