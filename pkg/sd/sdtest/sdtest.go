// Package sdtest stands in for the service manager's side of sd_notify in
// tests: a unixgram socket that NOTIFY_SOCKET points at, recording every
// datagram a daemon sends, so a test can await READY=1, STATUS=, WATCHDOG=1
// and STOPPING=1 without systemd.
package sdtest

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Socket records the notifications sent to it.
type Socket struct {
	conn *net.UnixConn
	done chan struct{}

	mu      sync.Mutex
	msgs    []string
	changed chan struct{} // closed and replaced on each datagram
}

// New listens on a unixgram socket in a temporary directory and points
// NOTIFY_SOCKET at it (t.Setenv, so the test must not be parallel). With a
// non-zero watchdog it also sets WATCHDOG_USEC and WATCHDOG_PID for this
// process. The socket is closed at cleanup.
func New(t testing.TB, watchdog time.Duration) *Socket {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify.sock")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatalf("sdtest: %v", err)
	}
	t.Setenv("NOTIFY_SOCKET", path)
	if watchdog > 0 {
		t.Setenv("WATCHDOG_USEC", strconv.FormatInt(watchdog.Microseconds(), 10))
		t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))
	} else {
		t.Setenv("WATCHDOG_USEC", "")
		t.Setenv("WATCHDOG_PID", "")
	}
	s := &Socket{conn: c, done: make(chan struct{}), changed: make(chan struct{})}
	go s.read()
	t.Cleanup(func() {
		c.Close()
		<-s.done
	})
	return s
}

func (s *Socket) read() {
	defer close(s.done)
	buf := make([]byte, 8192)
	for {
		n, err := s.conn.Read(buf)
		if err != nil {
			return
		}
		s.mu.Lock()
		// One datagram may carry several assignments (RELOADING=1 and
		// MONOTONIC_USEC); record each line.
		s.msgs = append(s.msgs, strings.Split(strings.TrimSpace(string(buf[:n])), "\n")...)
		close(s.changed)
		s.changed = make(chan struct{})
		s.mu.Unlock()
	}
}

// Messages returns every assignment received so far, in order.
func (s *Socket) Messages() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.msgs...)
}

// Index returns the position of the first message for which match is true,
// or -1.
func (s *Socket) Index(match func(string) bool) int { return s.indexAfter(-1, match) }

func (s *Socket) indexAfter(after int, match func(string) bool) int {
	for i, m := range s.Messages() {
		if i > after && match(m) {
			return i
		}
	}
	return -1
}

// ErrNotReceived is returned by Await when no message matched in time.
var ErrNotReceived = errors.New("sdtest: notification not received")

// Await waits until a message for which match is true was received, and
// returns its position. It gives up when ctx is done.
func (s *Socket) Await(ctx context.Context, match func(string) bool) (int, error) {
	return s.AwaitAfter(ctx, -1, match)
}

// AwaitAfter is Await for messages after position after.
func (s *Socket) AwaitAfter(ctx context.Context, after int, match func(string) bool) (int, error) {
	for {
		s.mu.Lock()
		ch := s.changed
		s.mu.Unlock()
		if i := s.indexAfter(after, match); i >= 0 {
			return i, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return -1, errors.Join(ErrNotReceived, ctx.Err())
		}
	}
}

// Is matches a message exactly ("READY=1").
func Is(msg string) func(string) bool { return func(m string) bool { return m == msg } }

// HasPrefix matches messages starting with prefix ("STATUS=").
func HasPrefix(prefix string) func(string) bool {
	return func(m string) bool { return strings.HasPrefix(m, prefix) }
}
