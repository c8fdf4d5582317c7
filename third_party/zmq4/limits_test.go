// Copyright 2018 The go-zeromq Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

package zmq4_test

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"
)

func TestMaxMsgSize(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ep := must(EndPoint("tcp"))
	router := zmq4.NewRouter(ctx, zmq4.WithMaxMsgSize(256)) // room for the READY with an identity
	defer router.Close()
	if err := router.Listen(ep); err != nil {
		t.Fatal(err)
	}

	big := zmq4.NewDealer(ctx)
	defer big.Close()
	if err := big.Dial(ep); err != nil {
		t.Fatal(err)
	}
	// The send may fail: the router drops the connection once it has read
	// the frame header, maybe before the body is written.
	_ = big.Send(zmq4.NewMsg(make([]byte, 1000)))
	// The router drops the connection that sent too much.
	if _, err := big.Recv(); err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("recv on the dropped connection: %v", err)
	}

	small := zmq4.NewDealer(ctx)
	defer small.Close()
	if err := small.Dial(ep); err != nil {
		t.Fatal(err)
	}
	if err := small.Send(zmq4.NewMsgString("hello")); err != nil {
		t.Fatal(err)
	}
	msg, err := router.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if got := string(msg.Frames[len(msg.Frames)-1]); got != "hello" {
		t.Fatalf("got %q, want hello", got)
	}
}

func TestMaxMsgSizeHandshake(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ep := must(EndPoint("tcp"))
	router := zmq4.NewRouter(ctx, zmq4.WithMaxMsgSize(1<<20))
	defer router.Close()
	if err := router.Listen(ep); err != nil {
		t.Fatal(err)
	}
	// A NULL greeting, then a READY command claiming 1<<62 bytes.
	greeting := make([]byte, 64)
	greeting[0], greeting[9], greeting[10] = 0xff, 0x7f, 3
	copy(greeting[12:], "NULL")
	hdr := []byte{0x06, 0, 0, 0, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint64(hdr[1:], 1<<62)
	conn := rawDial(t, router)
	if _, err := conn.Write(append(append(greeting, hdr...), "\x05READY"...)); err != nil {
		t.Fatal(err)
	}
	awaitEOF(t, conn)
}

func TestHandshakeTimeout(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ep := must(EndPoint("tcp"))
	router := zmq4.NewRouter(ctx, zmq4.WithHandshakeTimeout(200*time.Millisecond))
	defer router.Close()
	if err := router.Listen(ep); err != nil {
		t.Fatal(err)
	}
	// A peer that never greets is dropped after the timeout...
	conn := rawDial(t, router)
	start := time.Now()
	awaitEOF(t, conn)
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Fatalf("dropped after %v", d)
	}
}

func TestHandshakeOffAcceptLoop(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ep := must(EndPoint("tcp"))
	router := zmq4.NewRouter(ctx, zmq4.WithHandshakeTimeout(time.Hour))
	defer router.Close()
	if err := router.Listen(ep); err != nil {
		t.Fatal(err)
	}
	// ...and, while it waits, delays no other.
	idle := rawDial(t, router)
	defer idle.Close()

	dealer := zmq4.NewDealer(ctx)
	defer dealer.Close()
	if err := dealer.Dial(ep); err != nil {
		t.Fatal(err)
	}
	if err := dealer.Send(zmq4.NewMsgString("hello")); err != nil {
		t.Fatal(err)
	}
	msg, err := router.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if got := string(msg.Frames[len(msg.Frames)-1]); got != "hello" {
		t.Fatalf("got %q, want hello", got)
	}
}

func rawDial(t *testing.T, sck zmq4.Socket) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(sck.Addr().String(), "tcp://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func awaitEOF(t *testing.T, conn net.Conn) {
	t.Helper()
	if err := conn.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	_, err := io.Copy(io.Discard, conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("connection not dropped")
	}
}

func TestUnknownPeerSocketType(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ep := must(EndPoint("tcp"))
	router := zmq4.NewRouter(ctx)
	defer router.Close()
	if err := router.Listen(ep); err != nil {
		t.Fatal(err)
	}
	// A NULL greeting, then a READY whose Socket-Type is no type at all.
	greeting := make([]byte, 64)
	greeting[0], greeting[9], greeting[10] = 0xff, 0x7f, 3
	copy(greeting[12:], "NULL")
	ready := []byte("\x04\x1a\x05READY\x0bSocket-Type\x00\x00\x00\x04JUNK")
	conn := rawDial(t, router)
	if _, err := conn.Write(append(greeting, ready...)); err != nil {
		t.Fatal(err)
	}
	awaitEOF(t, conn)
}

func TestMalformedReady(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ep := must(EndPoint("tcp"))
	router := zmq4.NewRouter(ctx)
	defer router.Close()
	if err := router.Listen(ep); err != nil {
		t.Fatal(err)
	}
	greeting := make([]byte, 64)
	greeting[0], greeting[9], greeting[10] = 0xff, 0x7f, 3
	copy(greeting[12:], "NULL")
	for _, body := range []string{
		"\x05READY\x01a",                          // no value length
		"\x05READY\x03ab",                         // name longer than the rest
		"\x05READY\x02ab\x00\x00",                 // half a value length
		"\x05READY\x01a\x00\x00\x00\x05abc",       // value longer than the rest
		"\x05READY\x01a\x7f\xff\xff\xffabc",       // value length near the maximum
		"\x05READY\x01a\x00\x00\x00\x00\x01b\x00", // a second property cut short
	} {
		conn := rawDial(t, router)
		if _, err := conn.Write(append(append(greeting, 0x04, byte(len(body))), body...)); err != nil {
			t.Fatal(err)
		}
		awaitEOF(t, conn)
	}
}
