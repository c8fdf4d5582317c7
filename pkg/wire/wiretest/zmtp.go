package wiretest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// Raw ZMTP 3.0 (rfc.zeromq.org/spec/23), for tests that play a broken or
// hostile peer below the zmq4 library.

// Frame flags.
const (
	FlagMore    = 0x01
	FlagLong    = 0x02
	FlagCommand = 0x04
)

// Greeting is a ZMTP 3.0 greeting with the NULL mechanism.
func Greeting() []byte {
	g := make([]byte, 64)
	g[0], g[9] = 0xff, 0x7f
	g[10], g[11] = 3, 0
	copy(g[12:32], "NULL")
	return g
}

// FrameHeader is the header of a frame whose length field says size, in
// the long form whatever the size, so that any size can be claimed.
func FrameHeader(flags byte, size uint64) []byte {
	h := make([]byte, 9)
	h[0] = flags | FlagLong
	binary.BigEndian.PutUint64(h[1:], size)
	return h
}

// Frame is one complete frame.
func Frame(flags byte, body []byte) []byte {
	return append(FrameHeader(flags, uint64(len(body))), body...)
}

// Ready is a complete READY command naming the sender's socket type
// ("DEALER", "ROUTER", "REQ", ...).
func Ready(socketType string) []byte {
	body := []byte("\x05READY\x0bSocket-Type")
	body = binary.BigEndian.AppendUint32(body, uint32(len(socketType)))
	body = append(body, socketType...)
	return Frame(FlagCommand, body)
}

// Handshake is what a DEALER sends to open a connection: the greeting and
// its READY.
func Handshake() []byte { return append(Greeting(), Ready("DEALER")...) }

// DialRaw opens a plain connection to a tcp:// or ipc:// endpoint; it is
// closed when the test ends.
func DialRaw(t testing.TB, endpoint string) net.Conn {
	t.Helper()
	network, addr := "tcp", strings.TrimPrefix(endpoint, "tcp://")
	if a, ok := strings.CutPrefix(endpoint, "ipc://"); ok {
		network, addr = "unix", a
	}
	c, err := net.DialTimeout(network, addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", endpoint, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// ReadFrame reads one frame.
func ReadFrame(r io.Reader) (flags byte, body []byte, err error) {
	var h [9]byte
	if _, err := io.ReadFull(r, h[:2]); err != nil {
		return 0, nil, err
	}
	size := uint64(h[1])
	if h[0]&FlagLong != 0 {
		if _, err := io.ReadFull(r, h[2:]); err != nil {
			return 0, nil, err
		}
		size = binary.BigEndian.Uint64(h[1:])
	}
	if size > 1<<24 {
		return 0, nil, fmt.Errorf("frame of %d bytes", size)
	}
	body = make([]byte, size)
	_, err = io.ReadFull(r, body)
	return h[0], body, err
}

// AwaitDropped reads from c, discarding, until the peer closes it, and
// fails the test if that takes longer than d.
func AwaitDropped(t testing.TB, c net.Conn, d time.Duration) {
	t.Helper()
	start := time.Now()
	if err := c.SetReadDeadline(start.Add(d)); err != nil {
		t.Fatal(err)
	}
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the peer still holds the connection after %s", d)
	}
	// nil is EOF; a reset is a close too.
}
