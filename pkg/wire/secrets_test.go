package wire_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/wire"
	"github.com/schedulezero/schedulezero/pkg/wire/wiretest"
)

const (
	dingSecret  = "ding-secret-0123456789abcdef"
	otherSecret = "other-secret-0123456789abcdef"
)

// authRegistry is the in-memory registry plus the scheduler's secret check.
type authRegistry struct {
	*wiretest.Registry
	secrets *wire.HandlerSecrets
}

func (a authRegistry) Authenticate(id, secret string) error { return a.secrets.Check(id, secret) }

func newAuthRegistry(t *testing.T, byHandler map[string]string, require bool) authRegistry {
	t.Helper()
	s, err := wire.NewHandlerSecrets(byHandler, require)
	if err != nil {
		t.Fatal(err)
	}
	return authRegistry{Registry: wiretest.NewRegistry(), secrets: s}
}

func writeFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // umask
		t.Fatal(err)
	}
}

func TestLoadHandlerSecrets(t *testing.T) {
	for _, tc := range []struct {
		name    string
		files   map[string]string // name -> content; a trailing "/" makes a directory
		mode    os.FileMode
		creds   bool // the directory is $CREDENTIALS_DIRECTORY, not --handler-secrets-dir
		require bool
		want    []string // handlers with a secret; nil with wantNil
		wantNil bool
		wantErr string
	}{
		{name: "dir: every file is a handler", files: map[string]string{"ding": dingSecret + "\n", "other": otherSecret, ".hidden": "x", "sub/": ""},
			mode: 0o600, want: []string{"ding", "other"}},
		{name: "dir: group-readable refused", files: map[string]string{"ding": dingSecret}, mode: 0o640, wantErr: "chmod 600"},
		{name: "dir: world-readable refused", files: map[string]string{"ding": dingSecret}, mode: 0o644, wantErr: "readable by its group or others"},
		{name: "credentials: systemd's modes are not checked", creds: true, mode: 0o440,
			files: map[string]string{"handler-secret.ding": dingSecret}, want: []string{"ding"}},
		{name: "dir: short secret", files: map[string]string{"ding": "short"}, mode: 0o600, wantErr: "use at least 16"},
		{name: "dir: empty secret", files: map[string]string{"ding": " \n"}, mode: 0o600, wantErr: "the secret is empty"},
		{name: "dir: empty, not required", files: map[string]string{}, wantNil: true},
		{name: "dir: empty, required", files: map[string]string{}, require: true, want: []string{}},
		{name: "credentials: both naming forms", creds: true, mode: 0o400,
			files: map[string]string{"handler-secret.ding": dingSecret, "handler-secret_other": otherSecret, "api-token": "tok", "handler-secret": dingSecret},
			want:  []string{"ding", "other"}},
		{name: "credentials: one handler twice", creds: true, mode: 0o400,
			files:   map[string]string{"handler-secret.ding": dingSecret, "handler-secret_ding": dingSecret},
			wantErr: `handler "ding" has a second secret`},
		{name: "credentials: none", creds: true, mode: 0o400, files: map[string]string{"api-token": "tok"}, wantNil: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, content := range tc.files {
				if d, ok := strings.CutSuffix(name, "/"); ok {
					if err := os.Mkdir(filepath.Join(dir, d), 0o700); err != nil {
						t.Fatal(err)
					}
					continue
				}
				writeFile(t, filepath.Join(dir, name), content, tc.mode)
			}
			var s *wire.HandlerSecrets
			var err error
			if tc.creds {
				s, err = wire.LoadHandlerSecrets("", dir, tc.require)
			} else {
				s, err = wire.LoadHandlerSecrets(dir, "", tc.require)
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				for _, secret := range tc.files {
					if len(secret) > 8 && strings.Contains(err.Error(), strings.TrimSpace(secret)) {
						t.Fatalf("the error shows a secret: %v", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantNil {
				if s != nil {
					t.Fatalf("got %v, want nil (no checks)", s.Handlers())
				}
				return
			}
			if got := s.Handlers(); strings.Join(got, ",") != strings.Join(tc.want, ",") || s.Required() != tc.require {
				t.Fatalf("handlers %q required %v, want %q %v", got, s.Required(), tc.want, tc.require)
			}
		})
	}
	t.Run("missing dir", func(t *testing.T) {
		_, err := wire.LoadHandlerSecrets(filepath.Join(t.TempDir(), "nope"), "", false)
		if err == nil || !strings.Contains(err.Error(), "nope") {
			t.Fatalf("err = %v, want one naming the directory", err)
		}
	})
	t.Run("no dir, no credentials", func(t *testing.T) {
		if s, err := wire.LoadHandlerSecrets("", "", false); s != nil || err != nil {
			t.Fatalf("got %v %v", s, err)
		}
	})
}

func TestHandlerSecrets_Check(t *testing.T) {
	secrets, err := wire.NewHandlerSecrets(map[string]string{"ding": dingSecret}, false)
	if err != nil {
		t.Fatal(err)
	}
	required, err := wire.NewHandlerSecrets(map[string]string{"ding": dingSecret}, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		s         *wire.HandlerSecrets
		id, given string
		wantErr   string // "" accepts
		protects  bool
	}{
		{"right secret", secrets, "ding", dingSecret, "", true},
		{"wrong secret", secrets, "ding", otherSecret, "params.secret: does not match", true},
		{"wrong secret, a prefix of the right one", secrets, "ding", dingSecret[:20], "params.secret: does not match", true},
		{"no secret", secrets, "ding", "", "params.secret: is missing", true},
		{"handler without secret, not required", secrets, "python", "", "", false},
		{"handler without secret sends one anyway", secrets, "python", otherSecret, "", false},
		{"handler without secret, required", required, "python", "", "handler_id: has no registration secret", true},
		{"nil checks nothing", nil, "ding", "", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.s.Check(tc.id, tc.given)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
			} else {
				if !errors.Is(err, wire.ErrRefused) || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), `"`+tc.id+`"`) {
					t.Fatalf("err = %v, want ErrRefused naming %q and %q", err, tc.id, tc.wantErr)
				}
				if tc.given != "" && strings.Contains(err.Error(), tc.given) {
					t.Fatalf("the error shows the secret: %v", err)
				}
			}
			if got := tc.s.Protects(tc.id); got != tc.protects {
				t.Fatalf("Protects = %v, want %v", got, tc.protects)
			}
		})
	}
	if _, err := wire.NewHandlerSecrets(map[string]string{"ding": "short"}, false); err == nil {
		t.Fatal("a 5-character secret was accepted")
	}
}

// TestServer_HandlerSecrets drives the registration server over real
// sockets with the Go Client and with raw REQ frames as a Python handler
// (or an attacker) would send them.
func TestServer_HandlerSecrets(t *testing.T) {
	reg := newAuthRegistry(t, map[string]string{"ding": dingSecret}, false)
	srv := wiretest.Serve(t, reg)
	ctx := ctxT(t, 20*time.Second)

	t.Run("wrong or missing secret is refused and changes nothing", func(t *testing.T) {
		for _, secret := range []string{"", otherSecret} {
			c := wire.NewClient(srv.Addr(), nil)
			_, err := c.Register(ctx, wire.Registration{HandlerID: "ding", Address: "ipc:///evil", Protocol: 2, Secret: secret})
			c.Close()
			if !errors.Is(err, wire.ErrRefused) || !strings.Contains(err.Error(), "params.secret") {
				t.Fatalf("secret %q: err = %v, want ErrRefused naming params.secret", secret, err)
			}
		}
		if _, _, ok := reg.Handler("ding"); ok || reg.Registrations() != 0 {
			t.Fatalf("a refused handler reached the registry (%d registrations)", reg.Registrations())
		}
	})

	good := wire.NewClient(srv.Addr(), nil)
	defer good.Close()
	t.Run("right secret registers, pings and reports", func(t *testing.T) {
		status, err := good.Register(ctx, wire.Registration{HandlerID: "ding", Address: "ipc:///good", Protocol: 2, Secret: dingSecret})
		if err != nil || status != "registered" {
			t.Fatalf("register: %q %v", status, err)
		}
		if err := good.Ping(ctx); err != nil {
			t.Fatalf("ping with the secret: %v", err)
		}
		if n := reg.SeenCount("ding"); n != 1 {
			t.Fatalf("seen = %d, want 1", n)
		}
	})

	t.Run("hijack: same name, other address, no or bad secret", func(t *testing.T) {
		req := reqClient(t, srv.Addr())
		for _, tc := range []struct{ in, wantErr string }{
			{`{"method":"register","params":{"handler_id":"ding","address":"ipc:///evil","methods":["x"]}}`, `register: refused handler \"ding\": params.secret: is missing`},
			{`{"method":"register","params":{"handler_id":"ding","address":"ipc:///evil","methods":["x"],"secret":"` + otherSecret + `"}}`, `register: refused handler \"ding\": params.secret: does not match`},
			{`{"method":"report_status","params":{"handler_id":"ding","status":"offline"}}`, `report_status: refused handler \"ding\"`},
			{`{"method":"ping","params":{"handler_id":"ding","secret":"nope"}}`, `ping: refused handler \"ding\"`},
		} {
			out := roundTrip(t, req, tc.in)
			if !strings.HasPrefix(out, `{"success":false,"error":"`+tc.wantErr) || !strings.HasSuffix(out, `,"refused":true}`) {
				t.Errorf("%s\n got %s\nwant the refusal %q", tc.in, out, tc.wantErr)
			}
			if strings.Contains(out, otherSecret) || strings.Contains(out, dingSecret) {
				t.Errorf("the reply shows a secret: %s", out)
			}
		}
		h, status, _ := reg.Handler("ding")
		if h.Address != "ipc:///good" || status != "registered" || reg.Registrations() != 1 || reg.SeenCount("ding") != 1 {
			t.Fatalf("after the attempts: %+v %q, %d registrations, %d pings", h, status, reg.Registrations(), reg.SeenCount("ding"))
		}
		// The original's anonymous ping is still answered.
		if out := roundTrip(t, req, `{"method":"ping"}`); out != `{"success":true,"message":"pong"}` {
			t.Errorf("anonymous ping: %s", out)
		}
	})

	t.Run("handler without a secret registers as before", func(t *testing.T) {
		req := reqClient(t, srv.Addr())
		out := roundTrip(t, req, `{"method":"register","params":{"handler_id":"py","address":"tcp://127.0.0.1:4247","methods":["a"]}}`)
		want := `{"success":true,"handler_id":"py","address":"tcp://127.0.0.1:4247","status":"registered","methods":["a"],"message":"Handler py registered successfully"}`
		if out != want {
			t.Fatalf("got  %s\nwant %s", out, want)
		}
	})

	t.Run("the right secret reports offline", func(t *testing.T) {
		if err := good.ReportStatus(ctx, "ding", "offline"); err != nil {
			t.Fatal(err)
		}
		if _, status, _ := reg.Handler("ding"); status != "offline" {
			t.Fatalf("status = %q", status)
		}
	})
}

// TestServer_RequireHandlerSecrets: with secrets required, a handler that
// has none on the scheduler is refused, whatever it sends.
func TestServer_RequireHandlerSecrets(t *testing.T) {
	reg := newAuthRegistry(t, map[string]string{"ding": dingSecret}, true)
	srv := wiretest.Serve(t, reg)
	ctx := ctxT(t, 10*time.Second)
	c := wire.NewClient(srv.Addr(), nil)
	defer c.Close()
	for _, secret := range []string{"", otherSecret} {
		_, err := c.Register(ctx, wire.Registration{HandlerID: "py", Address: "ipc:///py", Secret: secret})
		if !errors.Is(err, wire.ErrRefused) || !strings.Contains(err.Error(), "--require-handler-secrets") {
			t.Fatalf("err = %v, want a refusal that names the option", err)
		}
	}
	if _, err := c.Register(ctx, wire.Registration{HandlerID: "ding", Address: "ipc:///d", Secret: dingSecret}); err != nil {
		t.Fatal(err)
	}
	if reg.Registrations() != 1 {
		t.Fatalf("registrations = %d, want 1", reg.Registrations())
	}
}

// TestOriginalPythonHandler_Secrets: secrets are opt-in per handler, so the
// original's handler (which sends none) still registers while another
// handler has a secret, and is refused, with a clear reply, once its own
// name has one.
func TestOriginalPythonHandler_Secrets(t *testing.T) {
	py := wiretest.Python(t)
	for _, tc := range []struct {
		name    string
		secrets map[string]string
		want    string
	}{
		{"another handler has a secret", map[string]string{"ding": dingSecret}, "READY registered"},
		{"its own name has a secret", map[string]string{"py-handler": dingSecret}, "REGISTER FAILED"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := newAuthRegistry(t, tc.secrets, false)
			srv := wiretest.Serve(t, reg)
			ctx := ctxT(t, 30*time.Second)
			p := startPython(ctx, t, py, srv.Addr(), wiretest.IPC(t, "py.sock"))
			cmd, stdin, lines, stderr := p.cmd, p.stdin, p.lines, p.stderr
			lines.Scan()
			got := lines.Text()
			stdin.Close()
			for lines.Scan() { // drain until exit
			}
			_ = cmd.Wait()
			if !strings.HasPrefix(got, tc.want) {
				t.Fatalf("handler said %q, want %q; stderr: %s", got, tc.want, stderr.String())
			}
			_, _, ok := reg.Handler("py-handler")
			if registered := tc.want == "READY registered"; ok != registered {
				t.Fatalf("in the registry: %v, want %v", ok, registered)
			}
			if !ok && !strings.Contains(got, "params.secret: is missing") {
				t.Fatalf("the refusal does not say why: %s", got)
			}
		})
	}
}

// The refusal reply is one JSON object with success, error and refused.
func TestServer_RefusalShape(t *testing.T) {
	reg := newAuthRegistry(t, map[string]string{"ding": dingSecret}, false)
	srv := wiretest.Serve(t, reg)
	out := roundTrip(t, reqClient(t, srv.Addr()), `{"method":"register","params":{"handler_id":"ding","address":"ipc:///x"}}`)
	var body struct {
		Success *bool
		Error   string
		Refused bool
	}
	if err := json.Unmarshal([]byte(out), &body); err != nil || body.Success == nil || *body.Success || body.Error == "" || !body.Refused {
		t.Fatalf("reply %s (%v)", out, err)
	}
}
