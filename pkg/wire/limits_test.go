package wire_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/wire"
	"github.com/schedulezero/schedulezero/pkg/wire/wiretest"
)

// hostileInputs are byte streams a peer may send a socket of ours: each
// must cost it its connection and nothing else.
func hostileInputs() []struct {
	name string
	in   []byte
} {
	// The crash of issue 12: a READY command whose length claims 1<<62
	// bytes (makeslice panic) or 64 GiB (out of memory).
	readyClaims := func(n uint64) []byte {
		return append(append(wiretest.Greeting(), wiretest.FrameHeader(wiretest.FlagCommand, n)...), "\x05READY"...)
	}
	many := func(n int, frame []byte) []byte {
		b := wiretest.Handshake()
		for range n {
			b = append(b, frame...)
		}
		return b
	}
	return []struct {
		name string
		in   []byte
	}{
		{"ready claims 1<<62", readyClaims(1 << 62)},
		{"ready claims 64 GiB", readyClaims(64 << 30)},
		{"ready claims 2^64-1", readyClaims(^uint64(0))},
		{"message claims 64 GiB", append(wiretest.Handshake(), wiretest.FrameHeader(0, 64<<30)...)},
		{"frame just over the limit", append(wiretest.Handshake(), wiretest.FrameHeader(0, wire.DefaultMaxMessageSize-8)...)},
		// Each frame is small; the message is not.
		{"many frames", many(1200, wiretest.Frame(wiretest.FlagMore, bytes.Repeat([]byte("x"), 1024)))},
		{"many empty frames", many(600_000, []byte{wiretest.FlagMore, 0})},
		{"garbage greeting", bytes.Repeat([]byte("x"), 64)},
		// Found by FuzzZMTPServer: zmq4 panicked on a socket type it does
		// not know.
		{"ready of an unknown socket type", append(wiretest.Greeting(), wiretest.Ready("JUNK")...)},
		// zmq4 sliced the metadata by the lengths the peer wrote.
		{"ready with a property cut short", append(wiretest.Greeting(), wiretest.Frame(wiretest.FlagCommand, []byte("\x05READY\x01a"))...)},
		{"ready with a value longer than the command", append(wiretest.Greeting(),
			wiretest.Frame(wiretest.FlagCommand, []byte("\x05READY\x0bSocket-Type\x00\x00\x01\x00DEALER"))...)},
		{"ready without a socket type", append(wiretest.Greeting(), wiretest.Frame(wiretest.FlagCommand, []byte("\x05READY"))...)},
		{"greeting of another mechanism", append(append(wiretest.Greeting()[:12:12], "CURVE"...), make([]byte, 47)...)},
	}
}

// send writes in to c without waiting on the peer to read it all.
func send(c net.Conn, in []byte) {
	go func() {
		_ = c.SetWriteDeadline(time.Now().Add(10 * time.Second))
		_, _ = c.Write(in) // the peer may close first
	}()
}

func register(t *testing.T, endpoint, id string) {
	t.Helper()
	c := wire.NewClient(endpoint, nil)
	defer c.Close()
	if _, err := c.Register(ctxT(t, 5*time.Second), wire.Registration{HandlerID: id, Address: "tcp://127.0.0.1:1"}); err != nil {
		t.Fatalf("a handler cannot register after the hostile peer: %v", err)
	}
}

func TestServer_HostileFrames_DropOnlyTheirConnection(t *testing.T) {
	reg := wiretest.NewRegistry()
	srv := wiretest.ServeOn(t, reg, "tcp://127.0.0.1:0")
	for i, tc := range hostileInputs() {
		t.Run(tc.name, func(t *testing.T) {
			c := wiretest.DialRaw(t, srv.Addr())
			send(c, tc.in)
			wiretest.AwaitDropped(t, c, 10*time.Second)
			register(t, srv.Addr(), fmt.Sprintf("h%d", i))
		})
	}
}

func TestServer_MessageAtTheLimit_IsServed(t *testing.T) {
	const limit = 8 << 10
	srv := wiretest.ServeOn(t, wiretest.NewRegistry(), "tcp://127.0.0.1:0", wire.WithLimits(wire.Limits{MaxMessageSize: limit}))
	ping := []byte(`{"method":"ping"}`)
	for _, tc := range []struct {
		name    string
		pad     int // spaces after the JSON: the body's size
		dropped bool
	}{
		// A DEALER's message: an empty delimiter frame, then the request.
		{"at the limit", limit - 2*9 - len(ping), false},
		{"one byte over", limit - 2*9 - len(ping) + 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := wiretest.DialRaw(t, srv.Addr())
			body := append(append([]byte{}, ping...), bytes.Repeat([]byte(" "), tc.pad)...)
			msg := append(wiretest.Handshake(), wiretest.Frame(wiretest.FlagMore, nil)...)
			send(c, append(msg, wiretest.Frame(0, body)...))
			if tc.dropped {
				wiretest.AwaitDropped(t, c, 10*time.Second)
				return
			}
			if err := c.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadFull(c, make([]byte, 64)); err != nil {
				t.Fatalf("greeting: %v", err)
			}
			var got []byte
			for got == nil || bytes.HasPrefix(got, []byte("\x05READY")) || len(got) == 0 {
				if _, got, _ = wiretest.ReadFrame(c); got == nil {
					t.Fatal("connection closed before the reply")
				}
			}
			if !bytes.Contains(got, []byte(`"pong"`)) {
				t.Fatalf("reply %q", got)
			}
		})
	}
}

// TestServer_StalledHandshake_BlocksNoOne holds connections that never
// finish their handshake, with a handshake timeout far longer than the
// test: registration must go on meanwhile.
func TestServer_StalledHandshake_BlocksNoOne(t *testing.T) {
	srv := wiretest.ServeOn(t, wiretest.NewRegistry(), "tcp://127.0.0.1:0",
		wire.WithLimits(wire.Limits{HandshakeTimeout: time.Hour}))
	wiretest.DialRaw(t, srv.Addr())                                 // silent
	send(wiretest.DialRaw(t, srv.Addr()), wiretest.Greeting()[:20]) // half a greeting
	send(wiretest.DialRaw(t, srv.Addr()), wiretest.Greeting())      // no READY
	register(t, srv.Addr(), "after-stalled")
}

func TestServer_StalledHandshake_DroppedAfterTimeout(t *testing.T) {
	const timeout = 300 * time.Millisecond
	srv := wiretest.ServeOn(t, wiretest.NewRegistry(), "tcp://127.0.0.1:0",
		wire.WithLimits(wire.Limits{HandshakeTimeout: timeout}))
	for _, tc := range []struct {
		name string
		in   []byte
	}{
		{"silent", nil},
		{"half a greeting", wiretest.Greeting()[:20]},
		{"greeting only", wiretest.Greeting()},
		{"half a ready", wiretest.Handshake()[:70]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := wiretest.DialRaw(t, srv.Addr())
			send(c, tc.in)
			start := time.Now()
			wiretest.AwaitDropped(t, c, 10*time.Second)
			if took := time.Since(start); took < timeout/2 {
				t.Errorf("dropped after %s, before the handshake timeout %s", took, timeout)
			}
		})
	}
	// A handshake done in time is not cut later.
	c := wire.NewClient(srv.Addr(), nil)
	defer c.Close()
	if err := c.Ping(ctxT(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	// Keep the connection busy past its handshake deadline.
	ctx := ctxT(t, 10*time.Second)
	for deadline := time.Now().Add(2 * timeout); time.Now().Before(deadline); {
		if err := c.Ping(ctx); err != nil {
			t.Fatalf("the connection was cut after its handshake: %v", err)
		}
	}
}

// fakeHandler is a TCP listener whose connections the test answers in raw
// ZMTP as a ROUTER would.
type fakeHandler struct {
	ln    net.Listener
	conns chan net.Conn
}

func newFakeHandler(t *testing.T) *fakeHandler {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeHandler{ln: ln, conns: make(chan net.Conn, 4)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			f.conns <- c
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		close(f.conns)
		for c := range f.conns {
			c.Close()
		}
	})
	return f
}

func (f *fakeHandler) addr() string { return "tcp://" + f.ln.Addr().String() }

// accept takes the next connection and reads the dialer's greeting.
func (f *fakeHandler) accept(t *testing.T) net.Conn {
	t.Helper()
	select {
	case c := <-f.conns:
		t.Cleanup(func() { c.Close() })
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Write(wiretest.Greeting()); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, make([]byte, 64)); err != nil {
			t.Fatalf("greeting: %v", err)
		}
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("no connection")
		return nil
	}
}

// request reads the READY and the next request, a single frame.
func request(t *testing.T, c net.Conn) wire.Request {
	t.Helper()
	for {
		fl, body, err := wiretest.ReadFrame(c)
		if err != nil {
			t.Fatalf("read request: %v", err)
		}
		if fl&wiretest.FlagCommand != 0 {
			continue
		}
		req, err := wire.DecodeRequest(body)
		if err != nil {
			t.Fatal(err)
		}
		return req
	}
}

// TestConn_HostileHandler_BreaksTheConnectionOnly plays a handler that
// answers the scheduler's connection with a huge frame, in its handshake
// or as the reply: the call fails, the process lives, and the next call
// (to a sane process at the address) is answered.
func TestConn_HostileHandler_BreaksTheConnectionOnly(t *testing.T) {
	for _, tc := range []struct {
		name      string
		size      uint64
		handshake bool
	}{
		{"ready of an unknown socket type", 0, true},
		{"ready claims 1<<62", 1 << 62, true},
		{"ready claims 64 GiB", 64 << 30, true},
		{"reply claims 1<<62", 1 << 62, false},
		{"reply claims 64 GiB", 64 << 30, false},
		{"reply just over the limit", wire.DefaultMaxMessageSize - 8, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeHandler(t)
			conn := wire.Dial(f.addr(), wire.ProtocolPipelined, nil)
			defer conn.Close()
			errc := make(chan error, 1)
			go func() {
				_, err := conn.Call(ctxT(t, 10*time.Second), wire.Request{Method: "job"})
				errc <- err
			}()
			c := f.accept(t)
			switch {
			case tc.handshake && tc.size == 0:
				send(c, wiretest.Ready("JUNK"))
			case tc.handshake:
				send(c, append(wiretest.FrameHeader(wiretest.FlagCommand, tc.size), "\x05READY"...))
			default:
				if _, err := c.Write(wiretest.Ready("ROUTER")); err != nil {
					t.Fatal(err)
				}
				request(t, c)
				send(c, wiretest.FrameHeader(0, tc.size))
			}
			err := <-errc
			if err == nil || !(errors.Is(err, wire.ErrTimeout) || errors.Is(err, wire.ErrUnavailable)) {
				t.Fatalf("call = %v, want ErrTimeout or ErrUnavailable", err)
			}
			wiretest.AwaitDropped(t, c, 10*time.Second)

			go func() {
				r, err := conn.Call(ctxT(t, 10*time.Second), wire.Request{Method: "job"})
				if err == nil && !r.Success {
					err = fmt.Errorf("reply %s", r.Raw)
				}
				errc <- err
			}()
			c = f.accept(t)
			if _, err := c.Write(wiretest.Ready("ROUTER")); err != nil {
				t.Fatal(err)
			}
			req := request(t, c)
			out, _ := json.Marshal(map[string]any{"success": true, "id": req.ID})
			if _, err := c.Write(wiretest.Frame(0, out)); err != nil {
				t.Fatal(err)
			}
			if err := <-errc; err != nil {
				t.Fatalf("the next call: %v", err)
			}
		})
	}
}

// TestConn_StalledHandlerHandshake_EndsTheDial: a handler that accepts the
// connection and never greets costs the dial its handshake timeout, not
// the Conn forever.
func TestConn_StalledHandlerHandshake_EndsTheDial(t *testing.T) {
	f := newFakeHandler(t)
	conn := wire.Dial(f.addr(), wire.ProtocolPipelined, nil, wire.WithLimits(wire.Limits{HandshakeTimeout: 300 * time.Millisecond}))
	defer conn.Close()
	errc := make(chan error, 1)
	go func() {
		_, err := conn.Call(ctxT(t, time.Minute), wire.Request{Method: "job"})
		errc <- err
	}()
	var c net.Conn
	select {
	case c = <-f.conns:
		defer c.Close()
	case <-time.After(10 * time.Second):
		t.Fatal("no connection")
	}
	select {
	case err := <-errc:
		if !errors.Is(err, wire.ErrUnavailable) {
			t.Fatalf("call = %v, want ErrUnavailable", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the dial still waits on a handler that never greets")
	}
	wiretest.AwaitDropped(t, c, 10*time.Second)
}

func TestListen_RefusesBadLimits(t *testing.T) {
	for _, l := range []wire.Limits{{MaxMessageSize: 100}, {MaxMessageSize: -1}, {HandshakeTimeout: -time.Second}} {
		srv, err := wire.Listen(ctxT(t, time.Second), "tcp://127.0.0.1:0", wiretest.NewRegistry(), nil, wire.WithLimits(l))
		if err == nil {
			srv.Close()
			t.Errorf("%+v accepted", l)
			continue
		}
		t.Log(err)
	}
}
