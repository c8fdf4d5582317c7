// Copyright 2018 The go-zeromq Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

package curve

import (
	"bytes"
	"io"
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

// play feeds input to a real end: the server (toServer) or the client.
// It returns once that end gave up; a hang fails through the deadline.
func play(t testing.TB, toServer bool, input []byte) {
	mine, theirs := net.Pipe()
	defer mine.Close()
	_ = theirs.SetDeadline(time.Now().Add(10 * time.Second))
	go io.Copy(io.Discard, mine) // what the real end says
	go func() {
		_, _ = mine.Write(input)
		mine.Close() // the real end then reads EOF
	}()
	var sec zmq4.Security = fuzzClient()
	typ := zmq4.Dealer
	if toServer {
		sec, typ = fuzzServer(), zmq4.Router
	}
	c, err := zmq4.Open(theirs, sec, typ, zmq4.SocketIdentity("x"), toServer, nil)
	if err != nil {
		return
	}
	for i := 0; ; i++ {
		if _, err := c.RecvMsg(); err != nil {
			return
		}
		if i > len(input) {
			t.Fatalf("more messages than input bytes")
		}
	}
}

// TestTranscriptReplays: the seeds are good sessions, so the fuzzer starts
// from inputs that pass the handshake.
func TestTranscriptReplays(t *testing.T) {
	toServer, _ := transcripts(t)
	mine, theirs := net.Pipe()
	defer mine.Close()
	go io.Copy(io.Discard, mine)
	go func() { _, _ = mine.Write(toServer); mine.Close() }()
	c, err := zmq4.Open(theirs, fuzzServer(), zmq4.Router, zmq4.SocketIdentity("x"), true, nil)
	if err != nil {
		t.Fatalf("the recorded handshake does not replay: %v", err)
	}
	m, err := c.RecvMsg()
	if err != nil || string(m.Frames[0]) != "job params" {
		t.Fatalf("first replayed message = %q, %v; want job params", m.Frames, err)
	}
}

func FuzzHandshake(f *testing.F) {
	toServer, toClient := transcripts(f)
	f.Add(true, toServer)
	f.Add(false, toClient)
	f.Add(true, toServer[:64])
	f.Add(false, toClient[:64])
	f.Fuzz(func(t *testing.T, server bool, input []byte) {
		play(t, server, input)
	})
}
