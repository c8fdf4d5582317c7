package wire_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/wire"
	"github.com/schedulezero/schedulezero/pkg/wire/wiretest"
)

// A registration whose id or address breaks the rules of package
// handlername is refused, naming the field and the rule, and the registry
// never hears of it.
func TestServer_RegisterValidatesIDAndAddress(t *testing.T) {
	reg := wiretest.NewRegistry()
	srv := wiretest.Serve(t, reg)
	c := reqClient(t, srv.Addr())
	for _, tc := range []struct{ name, id, address, wantErr string }{
		{"path id", "../../etc/passwd", "tcp://127.0.0.1:4247", `register: params.handler_id: "../../etc/passwd" starts with '.'`},
		{"control character id", "a\x1b[2J", "tcp://127.0.0.1:4247", `register: params.handler_id: "a\x1b[2J" holds '\x1b'`},
		{"long id", strings.Repeat("a", 201), "tcp://127.0.0.1:4247", "register: params.handler_id: has 201 characters, more than 200"},
		{"garbage transport", "h", "garbage:///x", `register h: params.address: "garbage:///x" is not a tcp:// or ipc:// endpoint`},
		{"no port", "h", "tcp://127.0.0.1", `register h: params.address: "tcp://127.0.0.1" is not tcp://HOST:PORT`},
		{"port 0", "h", "tcp://127.0.0.1:0", `register h: params.address: "tcp://127.0.0.1:0" has port 0`},
		{"relative ipc", "h", "ipc://x.sock", `register h: params.address: "ipc://x.sock" is not an absolute socket path`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := `{"method":"register","params":{"handler_id":` + jsonString(tc.id) + `,"address":` + jsonString(tc.address) + `,"methods":["m"]}}`
			got := roundTrip(t, c, in)
			if !strings.HasPrefix(got, `{"success":false,"error":`) || !strings.Contains(unquote(t, got), tc.wantErr) {
				t.Errorf("reply %s\nwant an error containing %s", got, tc.wantErr)
			}
		})
	}
	if n := reg.Registrations(); n != 0 {
		t.Errorf("%d registrations reached the registry, want 0", n)
	}
	// The original's own registration still passes.
	if got := roundTrip(t, c, `{"method":"register","params":{"handler_id":"ding-aling","address":"tcp://127.0.0.1:4247","methods":["quick_aling"]}}`); !strings.HasPrefix(got, `{"success":true`) {
		t.Errorf("the original's registration: %s", got)
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// unquote returns the "error" of a reply.
func unquote(t *testing.T, reply string) string {
	t.Helper()
	var v struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal([]byte(reply), &v); err != nil {
		t.Fatalf("reply %s: %v", reply, err)
	}
	return v.Error
}

// A Registration in a log line shows neither its secret nor its job token.
func TestRegistration_LogValueHidesSecrets(t *testing.T) {
	var buf strings.Builder
	logger := slog.New(slog.NewTextHandler(&buf, nil))
	token := wire.NewJobToken()
	logger.Info("x", "reg", wire.Registration{HandlerID: "h", Address: "ipc:///h.sock", Secret: "s3cret-s3cret-s3cret", JobToken: token})
	if out := buf.String(); strings.Contains(out, "s3cret") || strings.Contains(out, token) || !strings.Contains(out, "reg.handler=h") {
		t.Errorf("log line %q", out)
	}
}

// A pool member's registration carries its instance id, host, labels and
// heartbeat to the registry; its pings and status reports name the
// instance; bad pool fields are refused, naming the field.
func TestClient_RegisterCarriesTheInstance(t *testing.T) {
	reg := wiretest.NewRegistry()
	srv := wiretest.Serve(t, reg)
	ctx := context.Background()
	cl := wire.NewClient(srv.Addr(), slog.New(slog.DiscardHandler))
	defer cl.Close()
	in := wire.Registration{HandlerID: "h", Address: "ipc:///h-b", Protocol: wire.ProtocolLatest, Instance: "host-b:h",
		Host: "host-b", Labels: map[string]string{"zone": "b"}, Heartbeat: 1500 * time.Millisecond}
	if _, err := cl.Register(ctx, in); err != nil {
		t.Fatal(err)
	}
	got, _, _ := reg.Handler("h")
	if got.Instance != in.Instance || got.Host != "host-b" || got.Labels["zone"] != "b" || got.Heartbeat != in.Heartbeat {
		t.Fatalf("registry got %+v", got)
	}
	if err := cl.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if err := cl.ReportStatus(ctx, "h", "stopping"); err != nil {
		t.Fatal(err)
	}
	if n, st := reg.SeenCount("h/host-b:h"), reg.Status("h/host-b:h"); n != 1 || st != "stopping" {
		t.Fatalf("instance pings %d, status %q; want 1, stopping", n, st)
	}

	c := reqClient(t, srv.Addr())
	for _, tc := range []struct{ name, params, wantErr string }{
		{"bad instance", `"instance_id":"a b"`, `params.instance_id: "a b" holds ' '`},
		{"label key", `"labels":{"Zone":"b"}`, `params.labels: label key "Zone" must start with a-z`},
		{"label value", `"labels":{"zone":"b c"}`, `params.labels: label zone value "b c" holds ' '`},
		{"heartbeat", `"heartbeat_ms":-1`, `params.heartbeat_ms: is -1`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := roundTrip(t, c, `{"method":"register","params":{"handler_id":"p","address":"ipc:///p",`+tc.params+`}}`)
			if !strings.Contains(unquote(t, got), tc.wantErr) {
				t.Errorf("reply %s\nwant an error containing %s", got, tc.wantErr)
			}
		})
	}
	if _, _, ok := reg.Handler("p"); ok {
		t.Error("a refused registration reached the registry")
	}
}
