package handler_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/handler"
	"github.com/schedulezero/schedulezero/pkg/wire"
	"github.com/schedulezero/schedulezero/pkg/wire/wiretest"
)

// runJob makes one call, with the handler's job token, on a new
// connection to the job socket at addr.
func runJob(t *testing.T, addr, token string) {
	t.Helper()
	c := wire.Dial(addr, wire.ProtocolBatched, nil, wire.WithJobToken(token))
	defer c.Close()
	r, err := c.Call(ctxT(t, 5*time.Second), wire.Request{Method: "scalar", ExecutionID: "e", Attempt: 1})
	if err != nil || !r.Success {
		t.Fatalf("job after the hostile peer: %v %s", err, r.Raw)
	}
}

func TestServe_HostileFrames_DropOnlyTheirConnection(t *testing.T) {
	f := newFixture(t, 2)
	for _, tc := range []struct {
		name string
		in   []byte
	}{
		{"ready claims 1<<62", append(append(wiretest.Greeting(), wiretest.FrameHeader(wiretest.FlagCommand, 1<<62)...), "\x05READY"...)},
		{"ready claims 64 GiB", append(append(wiretest.Greeting(), wiretest.FrameHeader(wiretest.FlagCommand, 64<<30)...), "\x05READY"...)},
		{"request claims 64 GiB", append(wiretest.Handshake(), wiretest.FrameHeader(0, 64<<30)...)},
		{"ready of an unknown socket type", append(wiretest.Greeting(), wiretest.Ready("JUNK")...)},
		{"ready with a property cut short", append(wiretest.Greeting(), wiretest.Frame(wiretest.FlagCommand, []byte("\x05READY\x01a"))...)},
		{"garbage greeting", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n" + string(make([]byte, 40)))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := wiretest.DialRaw(t, f.addr)
			go func() {
				_ = c.SetWriteDeadline(time.Now().Add(10 * time.Second))
				_, _ = c.Write(tc.in)
			}()
			wiretest.AwaitDropped(t, c, 10*time.Second)
			runJob(t, f.addr, f.token)
		})
	}
}

// serveWith starts a handler with limits and returns its job address and
// job token.
func serveWith(t *testing.T, limits wire.Limits) (addr, token string) {
	t.Helper()
	reg := wiretest.NewRegistry()
	srv := wiretest.Serve(t, reg)
	mux := handler.NewMux()
	mux.HandleFunc("scalar", func(context.Context, *handler.Job) (any, error) { return 42, nil })
	startHandler(t, mux, handler.Options{Name: "h", Scheduler: srv.Addr(), Endpoint: "tcp://127.0.0.1:0", Limits: limits})
	h, _, _ := reg.Handler("h")
	return h.Address, h.JobToken
}

// stall opens connections that never finish their handshake: one silent,
// one with half a greeting, one with no READY.
func stall(t *testing.T, addr string) []net.Conn {
	var out []net.Conn
	for _, in := range [][]byte{nil, wiretest.Greeting()[:20], wiretest.Greeting()} {
		c := wiretest.DialRaw(t, addr)
		if _, err := c.Write(in); err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	return out
}

// TestServe_StalledHandshake_BlocksNoOne: connections that never finish
// their handshake, with a timeout far longer than the test, must not keep
// the scheduler's next connection (after a restart, say) from being served.
func TestServe_StalledHandshake_BlocksNoOne(t *testing.T) {
	addr, token := serveWith(t, wire.Limits{HandshakeTimeout: time.Hour})
	stall(t, addr)
	runJob(t, addr, token)
}

func TestServe_StalledHandshake_DroppedAfterTimeout(t *testing.T) {
	addr, token := serveWith(t, wire.Limits{HandshakeTimeout: 300 * time.Millisecond})
	for _, c := range stall(t, addr) {
		wiretest.AwaitDropped(t, c, 10*time.Second)
	}
	runJob(t, addr, token)
}

func TestNewServer_RefusesATinyMaxMessageSize(t *testing.T) {
	_, err := handler.NewServer(handler.NewMux(), handler.Options{Name: "x", Endpoint: "tcp://127.0.0.1:0",
		Limits: wire.Limits{MaxMessageSize: 100}})
	if err == nil {
		t.Fatal("a 100-byte max message size was accepted")
	}
	t.Log(err)
}

// TestServe_LargeBatchesFitTheLimit: at protocol 3 both sides batch what
// is queued; many requests and replies of 8 KiB each, 2 MiB in all, must
// go in frames below the default maximum message size, or a peer would
// drop the connection and its calls with it.
func TestServe_LargeBatchesFitTheLimit(t *testing.T) {
	f := newFixture(t, 16)
	c := wire.Dial(f.addr, wire.ProtocolBatched, nil, wire.WithJobToken(f.token))
	defer c.Close()
	params, _ := json.Marshal(map[string]string{"pad": strings.Repeat("x", 8<<10)})
	const n = 256
	errs := make(chan error, n)
	for i := range n {
		go func() {
			r, err := c.Call(ctxT(t, 20*time.Second), wire.Request{Method: "echo", Params: params, ExecutionID: fmt.Sprint("e", i), Attempt: 1})
			if err == nil && !r.Success {
				err = fmt.Errorf("reply %.100s", r.Raw)
			}
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
