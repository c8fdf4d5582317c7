package wire_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/wire"
	"github.com/schedulezero/schedulezero/pkg/wire/wiretest"
)

// FuzzZMTPServer drives the ZMTP reader (zmq4's, as patched) through a
// real connection: each input goes to a real registration server on TCP,
// after a valid greeting (prefix 0), a valid greeting and READY (1), or
// nothing (2). Whatever it is, the server must go on answering a ping on
// another connection: a crash ends the fuzzing process, a stall fails the
// ping's deadline.
//
//	go test -run '^$' -fuzz FuzzZMTP -fuzztime 60s ./pkg/wire
func FuzzZMTPServer(f *testing.F) {
	// A small limit, so that the fuzzer reaches it with small inputs.
	srv := wiretest.ServeOn(f, wiretest.NewRegistry(), "tcp://127.0.0.1:0",
		wire.WithLimits(wire.Limits{MaxMessageSize: 16 << 10, HandshakeTimeout: time.Second}))
	client := wire.NewClient(srv.Addr(), nil)
	f.Cleanup(func() { client.Close() })

	ping := append(wiretest.Frame(wiretest.FlagMore, nil), wiretest.Frame(0, []byte(`{"method":"ping"}`))...)
	for _, s := range []struct {
		prefix byte
		in     []byte
	}{
		// The crashes of issue 12.
		{0, append(wiretest.FrameHeader(wiretest.FlagCommand, 1<<62), "\x05READY"...)},
		{0, append(wiretest.FrameHeader(wiretest.FlagCommand, 64<<30), "\x05READY"...)},
		{1, wiretest.FrameHeader(0, 64<<30)},
		{1, wiretest.FrameHeader(wiretest.FlagMore, ^uint64(0))},
		{1, bytes.Repeat([]byte{wiretest.FlagMore, 0}, 10_000)},
		{1, ping},
		{1, append(ping, ping...)},
		{1, wiretest.Frame(0, []byte(`{"method":"register","params":{"handler_id":"x","address":"tcp://127.0.0.1:1"}}`))},
		{1, wiretest.Frame(wiretest.FlagCommand, []byte("\x04PING\x00\x00\x00\x00"))},
		{0, wiretest.Ready("PUB")},
		{0, wiretest.Frame(wiretest.FlagCommand, []byte("\x05READY\x0bSocket-Type\xff\xff\xff\xffDEALER"))},
		{0, wiretest.Frame(wiretest.FlagCommand, []byte("\x05"))},
		{0, wiretest.Frame(wiretest.FlagCommand, []byte("\x05READY\x01a"))},
		{0, wiretest.Frame(wiretest.FlagCommand, []byte("\x05READY\x08Identity\x00\x00\x00\x02id\x0bSocket-Type\x00\x00\x00\x06DEALER"))},
		{0, nil},
		{2, wiretest.Greeting()[:30]},
		{2, bytes.Repeat([]byte("x"), 64)},
		{2, []byte("GET / HTTP/1.1\r\n\r\n")},
	} {
		f.Add(s.prefix, s.in)
	}
	f.Fuzz(func(t *testing.T, prefix byte, in []byte) {
		var msg []byte
		switch prefix % 3 {
		case 0:
			msg = wiretest.Greeting()
		case 1:
			msg = wiretest.Handshake()
		}
		msg = append(msg, in...)

		c := wiretest.DialRaw(t, srv.Addr())
		_ = c.SetDeadline(time.Now().Add(100 * time.Millisecond))
		_, _ = c.Write(msg) // the server may have closed already
		// The end of the input: the server reads all of it, then EOF, and
		// closes; its answer, if any, is read until then.
		_ = c.(*net.TCPConn).CloseWrite()
		_, _ = io.Copy(io.Discard, c)
		c.Close()

		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := client.Ping(ctx); err != nil {
			t.Fatalf("the server stopped answering after %q: %v", msg, err)
		}
	})
}
