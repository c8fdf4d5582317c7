// Copyright 2018 The go-zeromq Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

package curve_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"
	"github.com/go-zeromq/zmq4/security/curve"
)

// libzmq's test keys (zmq_curve(7), tests/testutil_security).
const (
	serverPublic = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"
	serverSecret = "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6"
	clientPublic = "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID"
	clientSecret = "D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs"
)

func key(t testing.TB, z85 string) [curve.KeySize]byte {
	t.Helper()
	k, err := curve.ParseKey(z85)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestZ85(t *testing.T) {
	for _, tc := range []struct {
		raw  []byte
		text string
	}{
		{[]byte{0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B}, "HelloWorld"}, // RFC 32
		{nil, ""},
		{[]byte{0, 0, 0, 0}, "00000"},
		{[]byte{0xff, 0xff, 0xff, 0xff}, "%nSc0"},
	} {
		got, err := curve.Z85Encode(tc.raw)
		if err != nil || got != tc.text {
			t.Errorf("Z85Encode(%x) = %q, %v; want %q", tc.raw, got, err, tc.text)
		}
		back, err := curve.Z85Decode(tc.text)
		if err != nil || !bytes.Equal(back, tc.raw) && len(tc.raw) > 0 {
			t.Errorf("Z85Decode(%q) = %x, %v; want %x", tc.text, back, err, tc.raw)
		}
	}
	for _, bad := range []string{"Hell\"", "%nSc1", "1234"} { // bad character, over 32 bits, bad length
		if _, err := curve.Z85Decode(bad); !errors.Is(err, curve.ErrZ85) {
			t.Errorf("Z85Decode(%q) = %v, want ErrZ85", bad, err)
		}
	}
	if _, err := curve.Z85Encode([]byte{1, 2, 3}); !errors.Is(err, curve.ErrZ85) {
		t.Errorf("Z85Encode of 3 bytes: %v, want ErrZ85", err)
	}
}

func TestKeys(t *testing.T) {
	for _, pair := range [][2]string{{serverSecret, serverPublic}, {clientSecret, clientPublic}} {
		sec := curve.SecretKey(key(t, pair[0]))
		if got := sec.Public().String(); got != pair[1] {
			t.Errorf("Public(%s) = %s, want %s (libzmq's)", pair[0], got, pair[1])
		}
		if got := sec.Z85(); got != pair[0] {
			t.Errorf("Z85() = %s, want %s", got, pair[0])
		}
	}
	pub, sec, err := curve.GenerateKeyPair(nil)
	if err != nil {
		t.Fatal(err)
	}
	if sec.Public() != pub {
		t.Errorf("GenerateKeyPair: public key is not the secret's")
	}
	if _, err := curve.ParseKey("short"); !errors.Is(err, curve.ErrZ85) {
		t.Errorf("ParseKey(short) = %v, want ErrZ85", err)
	}
}

// echoServer is a Go REP over CURVE answering "echo:"+frame for each frame.
func echoServer(t *testing.T, ctx context.Context, authorize curve.Authorizer, got chan<- zmq4.Msg) string {
	t.Helper()
	rep := zmq4.NewRep(ctx, zmq4.WithSecurity(curve.NewServer(curve.SecretKey(key(t, serverSecret)), authorize)))
	if err := rep.Listen("tcp://127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			msg, err := rep.Recv()
			if err != nil {
				return
			}
			if got != nil {
				got <- msg
			}
			var out [][]byte
			for _, f := range msg.Frames {
				out = append(out, append([]byte("echo:"), f...))
			}
			if err := rep.Send(zmq4.NewMsgFrom(out...)); err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { rep.Close(); <-done })
	return "tcp://" + rep.Addr().String()
}

func goClient(t *testing.T, ctx context.Context, secret string) zmq4.Socket {
	req := zmq4.NewReq(ctx, zmq4.WithDialerMaxRetries(0), zmq4.WithSecurity(
		curve.NewClient(curve.SecretKey(key(t, secret)), curve.PublicKey(key(t, serverPublic)))))
	t.Cleanup(func() { req.Close() })
	return req
}

// No empty frame: zmq4's REP takes the last empty frame for the envelope's end.
var frames = [][]byte{[]byte("hello"), bytes.Repeat([]byte("x"), 300), bytes.Repeat([]byte("y"), 70000)}

func checkEcho(t *testing.T, got [][]byte) {
	t.Helper()
	if len(got) != len(frames) {
		for _, f := range got {
			t.Logf("%d %.10q", len(f), f)
		}
		t.Fatalf("got %d frames, want %d", len(got), len(frames))
	}
	for i, f := range frames {
		if want := append([]byte("echo:"), f...); !bytes.Equal(got[i], want) {
			t.Errorf("frame %d: got %d bytes %.20q, want %d bytes %.20q", i, len(got[i]), got[i], len(want), want)
		}
	}
}

func TestGoToGo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ep := echoServer(t, ctx, curve.AllowKeys(curve.PublicKey(key(t, clientPublic))), nil)
	req := goClient(t, ctx, clientSecret)
	if err := req.Dial(ep); err != nil {
		t.Fatal(err)
	}
	for range 3 { // several, so that the nonces move on
		if err := req.Send(zmq4.NewMsgFrom(frames...)); err != nil {
			t.Fatal(err)
		}
		msg, err := req.Recv()
		if err != nil {
			t.Fatal(err)
		}
		checkEcho(t, msg.Frames)
	}
}

// TestDenied: a client whose key is not allowed fails its Dial with
// ErrDenied, and the server reads nothing from it: the first message it
// receives is the allowed client's.
func TestDenied(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	got := make(chan zmq4.Msg, 4)
	ep := echoServer(t, ctx, curve.AllowKeys(curve.PublicKey(key(t, clientPublic))), got)

	_, other, _ := curve.GenerateKeyPair(nil)
	denied := goClient(t, ctx, other.Z85())
	if err := denied.Dial(ep); !errors.Is(err, curve.ErrDenied) {
		t.Fatalf("Dial with a key not allowed: %v, want ErrDenied", err)
	}
	_ = denied.Send(zmq4.NewMsgString("from the denied client")) // must go nowhere

	req := goClient(t, ctx, clientSecret)
	if err := req.Dial(ep); err != nil {
		t.Fatal(err)
	}
	if err := req.Send(zmq4.NewMsgString("allowed")); err != nil {
		t.Fatal(err)
	}
	if msg := <-got; string(msg.Frames[0]) != "allowed" {
		t.Fatalf("server first received %q, want the allowed client's message", msg.Frames[0])
	}
}

// TestWrongServerKey: a client that has not the server's public key cannot
// open WELCOME (nor the server its HELLO).
func TestWrongServerKey(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ep := echoServer(t, ctx, nil, nil)
	other, _, _ := curve.GenerateKeyPair(nil)
	req := zmq4.NewReq(ctx, zmq4.WithDialerMaxRetries(0), zmq4.WithSecurity(
		curve.NewClient(curve.SecretKey(key(t, clientSecret)), other)))
	defer req.Close()
	if err := req.Dial(ep); err == nil {
		t.Fatal("Dial with the wrong server key succeeded")
	}
}

func python(t *testing.T) string {
	t.Helper()
	cands := []string{"/usr/bin/python3"}
	if p, err := exec.LookPath("python3"); err == nil {
		cands = append(cands, p)
	}
	for _, p := range cands {
		if exec.Command(p, "-c", "import zmq; assert zmq.has('curve')").Run() == nil {
			return p
		}
	}
	t.Skip("skipping: no python3 with zmq and CURVE (apt-get install python3-zmq)")
	return ""
}

// TestGoClientLibzmqServer: our REQ against libzmq's REP.
func TestGoClientLibzmqServer(t *testing.T) {
	py := python(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, "testdata/peer.py", "server", "tcp://127.0.0.1:*", serverSecret)
	out, _ := cmd.StdoutPipe()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	lines := bufio.NewScanner(out)
	if !lines.Scan() {
		t.Fatalf("peer.py did not start: %s", stderr.String())
	}
	ep := strings.TrimPrefix(lines.Text(), "ready ")

	req := goClient(t, ctx, clientSecret)
	if err := req.Dial(ep); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := req.Send(zmq4.NewMsgFrom(frames...)); err != nil {
			t.Fatal(err)
		}
		msg, err := req.Recv()
		if err != nil {
			t.Fatalf("%v (peer: %s)", err, stderr.String())
		}
		checkEcho(t, msg.Frames)
	}
}

// TestLibzmqClientGoServer: libzmq's REQ against our REP, allowed by key.
func TestLibzmqClientGoServer(t *testing.T) {
	py := python(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ep := echoServer(t, ctx, curve.AllowKeys(curve.PublicKey(key(t, clientPublic))), nil)
	out, err := exec.CommandContext(ctx, py, "testdata/peer.py", "client", ep, clientSecret, serverPublic,
		"hello", strings.Repeat("x", 300)).CombinedOutput()
	if err != nil {
		t.Fatalf("peer.py: %v\n%s", err, out)
	}
	if want := "echo:hello\necho:" + strings.Repeat("x", 300) + "\n"; string(out) != want {
		t.Fatalf("libzmq client got %q, want %q", out, want)
	}
}
