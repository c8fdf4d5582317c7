package config_test

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/field"
	"github.com/schedulezero/schedulezero/pkg/handler/config"
	"github.com/schedulezero/schedulezero/pkg/wire"
	"github.com/schedulezero/schedulezero/pkg/wiretest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func TestPath(t *testing.T) {
	for _, tc := range []struct {
		name, explicit string
		getenv         func(string) string
		want           string
	}{
		{"flag", "x.json", env("SZ_HANDLER_CONFIG_DIR", "/a"), "x.json"},
		{"sz dir", "", env("SZ_HANDLER_CONFIG_DIR", "/a", "CONFIGURATION_DIRECTORY", "/b"), "/a/ding.json"},
		{"systemd dir", "", env("CONFIGURATION_DIRECTORY", "/b:/c"), "/b/handlers/ding.json"},
		{"system", "", env(), "/etc/schedulezero/handlers/ding.json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := config.Path("ding", tc.explicit, tc.getenv); got != tc.want {
				t.Errorf("Path = %q, want %q", got, tc.want)
			}
		})
	}
}

func write(t *testing.T, body string) string {
	p := filepath.Join(t.TempDir(), "h.json")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoad_Errors(t *testing.T) {
	for _, tc := range []struct {
		name, body, field string
	}{
		{"unknown key", `{"kind":"exec","colour":"red"}`, "colour"},
		{"bad type", `{"concurrency":"many"}`, "concurrency"},
		{"negative", `{"concurrency":-1}`, "concurrency"},
		{"bad duration", `{"ping_interval":"soon"}`, "ping_interval"},
		{"unknown method key", `{"methods":{"a":{"command":["/bin/true"],"timeout_s":3}}}`, "methods.a"},
		{"not an object", `[1]`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := write(t, tc.body)
			_, err := config.Load(p)
			var fe *field.Error
			if !errors.As(err, &fe) || fe.Field != tc.field || !strings.Contains(err.Error(), p) {
				t.Errorf("err = %v, want a field error on %q naming %s", err, tc.field, p)
			}
		})
	}
}

func TestOptions(t *testing.T) {
	logger := slog.New(slog.DiscardHandler)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "secret"), []byte("s3cret\n"), 0o600)
	exec := write(t, `{"kind":"exec","endpoint":"tcp://127.0.0.1:0","concurrency":4,"ping_interval":"1s","secret_file":"secret",
		"methods":{"backup":{"command":["/bin/true"],"timeout":"5m"}}}`)

	mux, opts, err := config.Options(config.Flags{Name: "scripts", ConfigPath: exec, Concurrency: 8, Scheduler: "ipc://s"}, logger,
		env("CREDENTIALS_DIRECTORY", dir))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(mux.Methods(), ","); got != "backup,ping" {
		t.Errorf("methods %s", got)
	}
	if opts.Concurrency != 8 || opts.Scheduler != "ipc://s" || opts.Endpoint != "tcp://127.0.0.1:0" ||
		opts.PingInterval != time.Second || opts.Secret != "s3cret" || opts.Name != "scripts" {
		t.Errorf("options %+v", opts)
	}

	t.Run("missing file with --kind", func(t *testing.T) {
		mux, _, err := config.Options(config.Flags{Name: "ding", Kind: "dingaling"}, logger, env("SZ_HANDLER_CONFIG_DIR", t.TempDir()))
		if err != nil || len(mux.Methods()) != 7 {
			t.Errorf("dingaling without file: %v", err)
		}
	})
	t.Run("missing file without kind", func(t *testing.T) {
		_, _, err := config.Options(config.Flags{Name: "ding"}, logger, env("SZ_HANDLER_CONFIG_DIR", t.TempDir()))
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("err = %v", err)
		}
	})
	for _, tc := range []struct {
		name  string
		fl    config.Flags
		field string
	}{
		{"bad name", config.Flags{Name: "../x", Kind: "dingaling"}, "name"},
		{"bad kind", config.Flags{Name: "x", Kind: "python"}, "kind"},
		{"exec without methods", config.Flags{Name: "x", Kind: "exec"}, "methods"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := config.Options(tc.fl, logger, env("SZ_HANDLER_CONFIG_DIR", t.TempDir()))
			var fe *field.Error
			if !errors.As(err, &fe) || fe.Field != tc.field {
				t.Errorf("err = %v, want field %s", err, tc.field)
			}
		})
	}
}

func TestRun_ExecEndToEnd(t *testing.T) {
	reg := wiretest.NewRegistry()
	srv := wiretest.Serve(t, reg)
	cfg := write(t, `{"kind":"exec","endpoint":"tcp://127.0.0.1:0","methods":{
		"hello":{"command":["/bin/sh","-c","echo hello $SZ_PARAM_WHO"]},
		"fail":{"command":["/bin/sh","-c","echo nope >&2; exit 2"]}}}`)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- config.Run(ctx, config.Flags{Name: "scripts", ConfigPath: cfg, Scheduler: srv.Addr()}, slog.New(slog.DiscardHandler), env())
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer wcancel()
	if err := reg.Await(wctx, func(r *wiretest.Registry) bool { _, _, ok := r.Handler("scripts"); return ok }); err != nil {
		t.Fatal(err)
	}
	h, _, _ := reg.Handler("scripts")
	c := wire.Dial(h.Address, h.Protocol, nil)
	defer c.Close()
	for _, tc := range []struct{ method, want string }{
		{"hello", `{"exit_code":0,"stderr":"","stdout":"hello you\n","success":true}`},
		{"fail", `{"error":"command for fail: exit status 2: nope","exit_code":2,"stderr":"nope\n","stdout":"","success":false}`},
	} {
		r, err := c.Call(wctx, wire.Request{Method: tc.method, Params: json.RawMessage(`{"who":"you"}`)})
		var m map[string]any
		json.Unmarshal(r.Raw, &m)
		delete(m, "id")
		got, _ := json.Marshal(m)
		if err != nil || string(got) != tc.want {
			t.Errorf("%s: got %s %v, want %s", tc.method, got, err, tc.want)
		}
	}
}
