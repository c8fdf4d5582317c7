package schedulerd_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/scheduler/schedtype"
	"github.com/schedulezero/schedulezero/pkg/schedulerd"
	"github.com/schedulezero/schedulezero/pkg/store"
	"github.com/schedulezero/schedulezero/pkg/wire"
)

func embedOptions(dir string, embed ...string) schedulerd.Options {
	return schedulerd.Options{
		DBPath:           filepath.Join(dir, "sz.db"),
		ZMQBind:          "ipc://" + filepath.Join(dir, "zmq.sock"),
		HTTPListen:       []string{"unix:" + filepath.Join(dir, "api.sock")},
		Embed:            embed,
		HandlerConfigDir: dir,
		StopTimeout:      5 * time.Second,
	}
}

func startEmbedding(t *testing.T, opts schedulerd.Options) *schedulerd.Daemon {
	t.Helper()
	d, err := schedulerd.New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Start(context.Background()); err != nil {
		_ = d.Stop(context.Background())
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Stop(context.Background()) })
	return d
}

func handlerStatus(t *testing.T, d *schedulerd.Daemon, id string) schedtype.HandlerStatus {
	t.Helper()
	hs, err := d.Engine().Handlers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hs {
		if h.ID == id {
			return h
		}
	}
	t.Fatalf("handler %s not listed: %+v", id, hs)
	return schedtype.HandlerStatus{}
}

// The daemon with embedded handlers runs their jobs, keeps their names
// from handler processes, refuses inproc:// from the network, and leaves
// them offline when it stops.
func TestEmbed_RunsJobsAndGuardsTheName(t *testing.T) {
	dir := t.TempDir()
	echo, err1 := exec.LookPath("echo")
	sleep, err2 := exec.LookPath("sleep")
	if err := errors.Join(err1, err2); err != nil {
		t.Skip(err)
	}
	conf := fmt.Sprintf(`{"kind":"exec","concurrency":3,"methods":{"hello":{"command":[%q,"hello"]},"nap":{"command":[%q,"30"],"timeout":"200ms"}}}`, echo, sleep)
	if err := os.WriteFile(filepath.Join(dir, "echo.json"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	opts := embedOptions(dir, "dingaling", "exec:echo")
	d := startEmbedding(t, opts)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	if h := handlerStatus(t, d, "dingaling"); h.Status != "online" || h.Address != "inproc://dingaling" {
		t.Errorf("dingaling: %+v", h.Handler)
	}
	if h := handlerStatus(t, d, "echo"); h.Status != "online" || h.Concurrency != 3 {
		t.Errorf("echo: %+v", h.Handler)
	}
	for _, run := range []schedtype.RunRequest{
		{HandlerID: "dingaling", Method: "quick_aling", Timeout: 10 * time.Second},
		{HandlerID: "echo", Method: "hello", Timeout: 10 * time.Second},
	} {
		ex, err := d.Engine().RunNow(ctx, run)
		if err != nil {
			t.Fatal(err)
		}
		if ex.Status != store.StatusSucceeded {
			t.Errorf("%s.%s: %s %s", run.HandlerID, run.Method, ex.Status, ex.Error)
		}
	}
	ex, err := d.Engine().RunNow(ctx, schedtype.RunRequest{HandlerID: "echo", Method: "nap", Timeout: 10 * time.Second, MaxAttempts: 1})
	if err != nil || ex.Status != store.StatusTimedOut || !strings.Contains(ex.Error, "timed out on the handler") {
		t.Errorf("a method past its own timeout: %+v %v, want %s on the handler", ex, err, store.StatusTimedOut)
	}

	c := wire.NewClient(d.ZMQAddr(), nil)
	defer c.Close()
	_, err = c.Register(ctx, wire.Registration{HandlerID: "dingaling", Address: "ipc://" + filepath.Join(dir, "h.sock"), Protocol: wire.ProtocolLatest})
	if !errors.Is(err, wire.ErrRefused) || !strings.Contains(err.Error(), "--embed") {
		t.Errorf("a handler process named dingaling registers: %v, want a refusal naming --embed", err)
	}
	_, err = c.Register(ctx, wire.Registration{HandlerID: "other", Address: "inproc://other", Protocol: wire.ProtocolLatest})
	if err == nil || !strings.Contains(err.Error(), "params.address") || !strings.Contains(err.Error(), "--embed") {
		t.Errorf("an inproc:// registration over ZeroMQ: %v, want a refusal of params.address", err)
	}
	if h := handlerStatus(t, d, "dingaling"); h.Address != "inproc://dingaling" || h.Status != "online" {
		t.Errorf("dingaling after the refused registrations: %+v", h.Handler)
	}

	if err := d.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Restarted without --embed: the handlers are offline, as a handler
	// process leaves them, and a job for one waits instead of failing.
	opts.Embed = nil
	d = startEmbedding(t, opts)
	for _, id := range []string{"dingaling", "echo"} {
		if h := handlerStatus(t, d, id); h.Status != "offline" {
			t.Errorf("%s after a stop: %s, want offline", id, h.Status)
		}
	}
}

// A store written by a run that crashed with embedded handlers has them
// online at an inproc:// address; a run that does not embed them says
// they are offline instead of dispatching to nothing.
func TestEmbed_StaleEmbeddedHandlerIsOffline(t *testing.T) {
	dir := t.TempDir()
	opts := embedOptions(dir)
	db, err := store.Open(opts.DBPath, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.PutHandler(context.Background(), store.Handler{ID: "ghost", Address: "inproc://ghost", Status: "online",
		Protocol: wire.ProtocolLatest, Concurrency: 1, Methods: []string{"x"}}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	d := startEmbedding(t, opts)
	if h := handlerStatus(t, d, "ghost"); h.Status != "offline" {
		t.Errorf("ghost: %s, want offline", h.Status)
	}
}

func TestEmbed_RefusesBadSpecs(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ding.json"), []byte(`{"kind":"dingaling"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		embed []string
		want  string
	}{
		{[]string{"cron"}, `"cron" is not a handler kind`},
		{[]string{"exec"}, "names no handler"},
		{[]string{"exec:missing"}, "missing.json"},
		{[]string{"exec:ding"}, `kind: is "dingaling"`},
		{[]string{"dingaling:a/b"}, "--embed dingaling:a/b"},
		{[]string{"dingaling", "dingaling"}, "embedded twice"},
	} {
		_, err := schedulerd.New(context.Background(), embedOptions(dir, tc.embed...))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("--embed %q: %v, want an error with %q", tc.embed, err, tc.want)
		}
	}
}
