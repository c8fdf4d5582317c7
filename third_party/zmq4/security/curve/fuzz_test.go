// Copyright 2018 The go-zeromq Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

package curve

import (
	"bytes"
	"math/rand/v2"
	"net"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"
)

// The fuzzer plays one end of a connection: its input is every byte that
// end sends (greeting, handshake commands, MESSAGEs), read by a real CURVE
// server or client. Both Securities draw their randomness from a seeded
// ChaCha8, so a recorded transcript of a good handshake replays exactly:
// the seeds are good sessions, and mutations of them reach every step
// (cookie, vouch, authorisation, metadata, MESSAGE boxes and nonces), not
// only the first box. The property: the real end returns, with an error or
// without, and does not panic or hang.

var (
	fuzzServerKey = mustKey("JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6") // libzmq's test keys
	fuzzClientKey = mustKey("D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs")
)

func mustKey(z85 string) SecretKey {
	k, err := ParseKey(z85)
	if err != nil {
		panic(err)
	}
	return SecretKey(k)
}

func seeded(s *security, seed byte) *security {
	s.rand = rand.NewChaCha8([32]byte{seed})
	return s
}

func fuzzServer() *security {
	return seeded(NewServer(fuzzServerKey, AllowKeys(fuzzClientKey.Public())).(*security), 1)
}

func fuzzClient() *security {
	return seeded(NewClient(fuzzClientKey, fuzzServerKey.Public()).(*security), 2)
}

// recorder is a connection that keeps what it reads.
type recorder struct {
	net.Conn
	got bytes.Buffer
}

func (r *recorder) Read(p []byte) (int, error) {
	n, err := r.Conn.Read(p)
	r.got.Write(p[:n])
	return n, err
}

// transcripts runs a good session, a handshake then two messages each way,
// and returns what the server read and what the client read.
func transcripts(t testing.TB) (toServer, toClient []byte) {
	a, b := tcpPair(t) // both ends write their greeting first: net.Pipe would deadlock
	ra, rb := &recorder{Conn: a}, &recorder{Conn: b}
	done := make(chan error, 1)
	go func() {
		c, err := zmq4.Open(rb, fuzzClient(), zmq4.Dealer, zmq4.SocketIdentity("c"), false, nil)
		if err == nil {
			for _, m := range []zmq4.Msg{zmq4.NewMsgString("job params"), zmq4.NewMsgFrom([]byte("a"), bytes.Repeat([]byte("b"), 300))} {
				if err = c.SendMsg(m); err != nil {
					break
				}
				if _, err = c.RecvMsg(); err != nil {
					break
				}
			}
		}
		done <- err
	}()
	s, err := zmq4.Open(ra, fuzzServer(), zmq4.Router, zmq4.SocketIdentity("s"), true, nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		m, err := s.RecvMsg()
		if err != nil {
			t.Fatal(err)
		}
		if err := s.SendMsg(m); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	a.Close()
	b.Close()
	return ra.got.Bytes(), rb.got.Bytes()
}

func tcpPair(t testing.TB) (net.Conn, net.Conn) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	b, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	a, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	_ = a.SetDeadline(deadline)
	_ = b.SetDeadline(deadline)
	return a, b
}

// scripted is a connection whose peer says input and then hangs up, and
// discards what it is told: no goroutine, nothing can block.
type scripted struct {
	net.Conn // nil: a method not below would panic
	in       *bytes.Reader
}

func (c *scripted) Read(p []byte) (int, error)       { return c.in.Read(p) }
func (c *scripted) Write(p []byte) (int, error)      { return len(p), nil }
func (c *scripted) Close() error                     { return nil }
func (c *scripted) SetDeadline(time.Time) error      { return nil }
func (c *scripted) SetReadDeadline(time.Time) error  { return nil }
func (c *scripted) SetWriteDeadline(time.Time) error { return nil }
func (c *scripted) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *scripted) RemoteAddr() net.Addr             { return &net.TCPAddr{} }

// play feeds input to a real end: the server (toServer) or the client. It
// returns the messages that end received after its handshake, and the
// error that ended it.
func play(t testing.TB, toServer bool, input []byte) ([]zmq4.Msg, error) {
	var sec zmq4.Security = fuzzClient()
	typ := zmq4.Dealer
	if toServer {
		sec, typ = fuzzServer(), zmq4.Router
	}
	c, err := zmq4.Open(&scripted{in: bytes.NewReader(input)}, sec, typ, zmq4.SocketIdentity("x"), toServer, nil)
	if err != nil {
		return nil, err
	}
	var msgs []zmq4.Msg
	for {
		m, err := c.RecvMsg()
		if err != nil {
			return msgs, err
		}
		msgs = append(msgs, m)
		if len(msgs) > len(input) {
			t.Fatalf("more messages than input bytes")
		}
	}
}

// TestTranscriptReplays: the seeds are good sessions, so the fuzzer starts
// from inputs that pass the handshake.
func TestTranscriptReplays(t *testing.T) {
	toServer, toClient := transcripts(t)
	for _, tc := range []struct {
		server bool
		input  []byte
		want   string
	}{{true, toServer, "job params"}, {false, toClient, "job params"}} {
		msgs, err := play(t, tc.server, tc.input)
		if len(msgs) != 2 || string(msgs[0].Frames[0]) != tc.want {
			t.Fatalf("server=%v: replay gave %d messages (%v), want 2, the first %q", tc.server, len(msgs), err, tc.want)
		}
	}
}

func FuzzHandshake(f *testing.F) {
	toServer, toClient := transcripts(f)
	f.Add(true, toServer)
	f.Add(false, toClient)
	f.Add(true, toServer[:64])
	f.Add(false, toClient[:64])
	f.Fuzz(func(t *testing.T, server bool, input []byte) {
		_, _ = play(t, server, input)
	})
}
