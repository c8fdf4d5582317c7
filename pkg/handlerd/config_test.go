package handlerd_test

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/field"
	"github.com/schedulezero/schedulezero/pkg/handlerd"
	"github.com/schedulezero/schedulezero/pkg/sd"
	"github.com/schedulezero/schedulezero/pkg/sd/sdtest"
	"github.com/schedulezero/schedulezero/pkg/wire"
	"github.com/schedulezero/schedulezero/pkg/wire/wiretest"
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
			if got := handlerd.Path("ding", tc.explicit, tc.getenv); got != tc.want {
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
		{"tiny max message size", `{"zmq_max_message_size":100}`, "zmq_max_message_size"},
		{"negative handshake timeout", `{"zmq_handshake_timeout":"-1s"}`, "zmq_handshake_timeout"},
		{"unknown method key", `{"methods":{"a":{"command":["/bin/true"],"timeout_s":3}}}`, "methods.a"},
		{"not an object", `[1]`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := write(t, tc.body)
			_, err := handlerd.Load(p)
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

	mux, opts, err := handlerd.Options(handlerd.Flags{Name: "scripts", ConfigPath: exec, Concurrency: 8, Scheduler: "ipc://s"}, logger,
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

	// A wildcard or non-loopback endpoint in a config file is refused,
	// naming the file, the key and the knob, unless the knob is set.
	t.Run("wildcard endpoint in the file", func(t *testing.T) {
		path := write(t, `{"kind":"dingaling","endpoint":"tcp://0.0.0.0:1"}`)
		_, _, err := handlerd.Options(handlerd.Flags{Name: "ding", ConfigPath: path}, logger, env())
		var fe *field.Error
		if !errors.As(err, &fe) || fe.Field != "endpoint" || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "allow_non_loopback") {
			t.Errorf("err = %v, want the file, field endpoint and the allow_non_loopback knob", err)
		}
		path = write(t, `{"kind":"dingaling","endpoint":"tcp://0.0.0.0:1","allow_non_loopback":true}`)
		if _, opts, err := handlerd.Options(handlerd.Flags{Name: "ding", ConfigPath: path}, logger, env()); err != nil || opts.Endpoint != "tcp://0.0.0.0:1" {
			t.Errorf("with allow_non_loopback: %v %q", err, opts.Endpoint)
		}
	})
	t.Run("CURVE keys", func(t *testing.T) {
		creds := t.TempDir()
		// libzmq's test key pair (tests/testutil_security.cpp): the
		// server's public key, and a client's secret key.
		os.WriteFile(filepath.Join(creds, "curve.key"), []byte("D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs\n"), 0o600)
		_, opts, err := handlerd.Options(handlerd.Flags{Name: "ding", Kind: "dingaling", CurveSecretKeyFile: "curve.key",
			CurveServerKey: "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"}, logger, env("CREDENTIALS_DIRECTORY", creds, "SZ_HANDLER_CONFIG_DIR", t.TempDir()))
		if err != nil || len(opts.Wire) != 1 {
			t.Errorf("CURVE flags: %v, %d wire options, want 1", err, len(opts.Wire))
		}
	})
	t.Run("missing file with --kind", func(t *testing.T) {
		mux, _, err := handlerd.Options(handlerd.Flags{Name: "ding", Kind: "dingaling"}, logger, env("SZ_HANDLER_CONFIG_DIR", t.TempDir()))
		if err != nil || len(mux.Methods()) != 7 {
			t.Errorf("dingaling without file: %v", err)
		}
	})
	t.Run("missing file without kind", func(t *testing.T) {
		_, _, err := handlerd.Options(handlerd.Flags{Name: "ding"}, logger, env("SZ_HANDLER_CONFIG_DIR", t.TempDir()))
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("err = %v", err)
		}
	})
	for _, tc := range []struct {
		name  string
		fl    handlerd.Flags
		field string
	}{
		{"bad name", handlerd.Flags{Name: "../x", Kind: "dingaling"}, "name"},
		{"bad kind", handlerd.Flags{Name: "x", Kind: "python"}, "kind"},
		{"exec without methods", handlerd.Flags{Name: "x", Kind: "exec"}, "methods"},
		{"at sign in name", handlerd.Flags{Name: "a@b", Kind: "dingaling"}, "name"},
		{"wildcard --endpoint", handlerd.Flags{Name: "x", Kind: "dingaling", Endpoint: "tcp://0.0.0.0:1"}, "--endpoint"},
		{"CURVE server key without a key pair", handlerd.Flags{Name: "x", Kind: "dingaling", CurveServerKey: "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"}, "--curve-secret-key-file"},
		{"CURVE key pair without the server's key", handlerd.Flags{Name: "x", Kind: "dingaling", CurveSecretKeyFile: "curve.key"}, "--curve-server-key"},
		{"CURVE server key neither a key nor a file", handlerd.Flags{Name: "x", Kind: "dingaling", CurveSecretKeyFile: "curve.key", CurveServerKey: "not-a-key"}, "--curve-server-key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := handlerd.Options(tc.fl, logger, env("SZ_HANDLER_CONFIG_DIR", t.TempDir()))
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
		done <- handlerd.Run(ctx, handlerd.Flags{Name: "scripts", ConfigPath: cfg, Scheduler: srv.Addr()}, slog.New(slog.DiscardHandler), env(), nil)
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
	c := wire.Dial(h.Address, h.Protocol, nil, wire.WithJobToken(h.JobToken))
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

// TestRun_SystemdSequence runs a handler against a stand-in NOTIFY_SOCKET:
// no READY=1 while the scheduler is away, READY=1 once it accepted the
// registration, then STATUS= naming it, WATCHDOG=1 while healthy, and
// STOPPING=1 first when the context ends.
func TestRun_SystemdSequence(t *testing.T) {
	sock := sdtest.New(t, 400*time.Millisecond)
	n := sd.NewNotifier(nil)
	ep := wiretest.IPC(t, "sched.sock")
	cfg := write(t, `{"kind":"dingaling","endpoint":"`+wiretest.IPC(t, "ding.sock")+`"}`)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- handlerd.Run(ctx, handlerd.Flags{Name: "ding", ConfigPath: cfg, Scheduler: ep}, slog.New(slog.DiscardHandler), env(), n)
	}()
	var stopOnce sync.Once
	stop := func() {
		stopOnce.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Error(err)
			}
		})
	}
	defer stop()
	wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer wcancel()

	// The scheduler is not there: the handler says so and is not ready.
	if _, err := sock.Await(wctx, sdtest.HasPrefix("STATUS=registering with "+ep)); err != nil {
		t.Fatalf("%v; got %q", err, sock.Messages())
	}
	if i := sock.Index(sdtest.Is("READY=1")); i >= 0 {
		t.Fatalf("READY=1 before any scheduler listened: %q", sock.Messages())
	}

	reg := wiretest.NewRegistry()
	sctx, scancel := context.WithCancel(context.Background())
	srv, err := wire.Listen(sctx, ep, reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(sctx) }()
	defer func() { scancel(); <-served }()

	ready, err := sock.Await(wctx, sdtest.Is("READY=1"))
	if err != nil {
		t.Fatalf("%v; got %q", err, sock.Messages())
	}
	if _, st, ok := reg.Handler("ding"); !ok || st != "registered" {
		t.Errorf("at READY=1 the registry has ding=%v (%q), want registered", ok, st)
	}
	for _, want := range []func(string) bool{sdtest.HasPrefix("STATUS=registered with " + ep + "; 0 jobs done"), sdtest.Is("WATCHDOG=1")} {
		if _, err := sock.Await(wctx, want); err != nil {
			t.Fatalf("%v; got %q", err, sock.Messages())
		}
	}

	stop()
	stopping := sock.Index(sdtest.Is("STOPPING=1"))
	if stopping < ready {
		t.Errorf("STOPPING=1 at %d, READY=1 at %d: %q", stopping, ready, sock.Messages())
	}
	if _, st, _ := reg.Handler("ding"); st != "offline" {
		t.Errorf("after stop the registry has ding %q, want offline", st)
	}
}

// Under systemd (RUNTIME_DIRECTORY set) the sockets default to ipc:// in
// the runtime directory; the file and the flags still win.
func TestOptions_RuntimeDirectoryDefaults(t *testing.T) {
	logger := slog.New(slog.DiscardHandler)
	for _, tc := range []struct {
		name, file              string
		fl                      handlerd.Flags
		runtime                 string
		wantEndpoint, wantSched string
	}{
		{"systemd defaults", `{"kind":"dingaling"}`, handlerd.Flags{}, "/run/sz",
			"ipc:///run/sz/handler-ding.sock", "ipc:///run/sz/zmq.sock"},
		{"first of several runtime dirs", `{"kind":"dingaling"}`, handlerd.Flags{}, "/run/a:/run/b",
			"ipc:///run/a/handler-ding.sock", "ipc:///run/a/zmq.sock"},
		{"the file wins", `{"kind":"dingaling","endpoint":"tcp://127.0.0.1:7000","scheduler":"ipc:///run/sz/clock/zmq.sock"}`, handlerd.Flags{}, "/run/sz",
			"tcp://127.0.0.1:7000", "ipc:///run/sz/clock/zmq.sock"},
		{"flags win", `{"kind":"dingaling"}`, handlerd.Flags{Endpoint: "ipc:///tmp/h.sock", Scheduler: "tcp://10.0.0.1:4242"}, "/run/sz",
			"ipc:///tmp/h.sock", "tcp://10.0.0.1:4242"},
		{"outside systemd: the library defaults", `{"kind":"dingaling"}`, handlerd.Flags{}, "", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fl := tc.fl
			fl.Name, fl.ConfigPath = "ding", write(t, tc.file)
			_, opts, err := handlerd.Options(fl, logger, env("RUNTIME_DIRECTORY", tc.runtime))
			if err != nil {
				t.Fatal(err)
			}
			if opts.Endpoint != tc.wantEndpoint || opts.Scheduler != tc.wantSched {
				t.Errorf("endpoint %q scheduler %q, want %q %q", opts.Endpoint, opts.Scheduler, tc.wantEndpoint, tc.wantSched)
			}
		})
	}
}

func TestOptions_ZMQLimits(t *testing.T) {
	logger := slog.New(slog.DiscardHandler)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ding.json"),
		[]byte(`{"kind":"dingaling","zmq_max_message_size":65536,"zmq_handshake_timeout":"2s"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		fl   wire.Limits
		want wire.Limits
	}{
		{"from the file", wire.Limits{}, wire.Limits{MaxMessageSize: 65536, HandshakeTimeout: 2 * time.Second}},
		{"flags win", wire.Limits{MaxMessageSize: 1 << 21, HandshakeTimeout: time.Second}, wire.Limits{MaxMessageSize: 1 << 21, HandshakeTimeout: time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, opts, err := handlerd.Options(handlerd.Flags{Name: "ding", ZMQLimits: tc.fl}, logger, env("SZ_HANDLER_CONFIG_DIR", dir))
			if err != nil {
				t.Fatal(err)
			}
			if opts.Limits != tc.want {
				t.Errorf("limits = %+v, want %+v", opts.Limits, tc.want)
			}
		})
	}
}

// Where the journal goes: --journal, else journal_dir, else journal/NAME
// in systemd's state directory; "off" at either level keeps none, and so
// does a handler outside systemd that is given no directory.
func TestOptions_JournalDir(t *testing.T) {
	logger := slog.New(slog.DiscardHandler)
	for _, tc := range []struct {
		name, file, flag, state, want string
	}{
		{"systemd default", `{"kind":"dingaling"}`, "", "/var/lib/sz/handlers/ding", "/var/lib/sz/handlers/ding/journal/ding"},
		{"first of several state dirs", `{"kind":"dingaling"}`, "", "/var/lib/a:/var/lib/b", "/var/lib/a/journal/ding"},
		{"the file wins", `{"kind":"dingaling","journal_dir":"/srv/j"}`, "", "/var/lib/sz", "/srv/j"},
		{"the flag wins", `{"kind":"dingaling","journal_dir":"/srv/j"}`, "/tmp/j", "/var/lib/sz", "/tmp/j"},
		{"off in the file", `{"kind":"dingaling","journal_dir":"off"}`, "", "/var/lib/sz", ""},
		{"off by flag", `{"kind":"dingaling","journal_dir":"/srv/j"}`, "off", "/var/lib/sz", ""},
		{"outside systemd: none", `{"kind":"dingaling"}`, "", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fl := handlerd.Flags{Name: "ding", ConfigPath: write(t, tc.file), Journal: tc.flag}
			_, opts, err := handlerd.Options(fl, logger, env("STATE_DIRECTORY", tc.state))
			if err != nil {
				t.Fatal(err)
			}
			if opts.JournalDir != tc.want {
				t.Errorf("journal dir %q, want %q", opts.JournalDir, tc.want)
			}
		})
	}
}
