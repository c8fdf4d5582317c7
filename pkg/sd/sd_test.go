package sd

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// notifySocket listens on a unixgram socket in a temp dir, points
// NOTIFY_SOCKET at it and returns it.
func notifySocket(t *testing.T) *net.UnixConn {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify.sock")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	return c
}

// recv reads one datagram or fails after d.
func recv(t *testing.T, c *net.UnixConn, d time.Duration) string {
	t.Helper()
	s, err := tryRecv(c, d)
	if err != nil {
		t.Fatalf("no datagram within %v: %v", d, err)
	}
	return s
}

func tryRecv(c *net.UnixConn, d time.Duration) (string, error) {
	buf := make([]byte, 4096)
	if err := c.SetReadDeadline(time.Now().Add(d)); err != nil {
		return "", err
	}
	n, err := c.Read(buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

func TestNotifier_Messages(t *testing.T) {
	c := notifySocket(t)
	n := NewNotifier(nil)
	if !n.Enabled() {
		t.Fatal("Enabled() = false with NOTIFY_SOCKET set")
	}
	tests := []struct {
		name string
		send func() error
		want *regexp.Regexp
	}{
		{"ready", n.Ready, regexp.MustCompile(`^READY=1$`)},
		{"status", func() error { return n.Status("%d schedules, %s", 3, "2 handlers") }, regexp.MustCompile(`^STATUS=3 schedules, 2 handlers$`)},
		{"status one line", func() error { return n.Status("a\nb") }, regexp.MustCompile(`^STATUS=a b$`)},
		{"reloading", n.Reloading, regexp.MustCompile(`^RELOADING=1\nMONOTONIC_USEC=[1-9][0-9]*$`)},
		{"stopping", n.Stopping, regexp.MustCompile(`^STOPPING=1$`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.send(); err != nil {
				t.Fatal(err)
			}
			if got := recv(t, c, 2*time.Second); !tt.want.MatchString(got) {
				t.Fatalf("datagram %q, want %v", got, tt.want)
			}
		})
	}
}

func TestNotifier_NoSocketIsNoop(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	n := NewNotifier(nil)
	for name, f := range map[string]func() error{
		"ready": n.Ready, "reloading": n.Reloading, "stopping": n.Stopping,
		"status": func() error { return n.Status("x") },
		"watchdog": func() error {
			return n.RunWatchdog(context.Background(), func(context.Context) error { return nil })
		},
	} {
		if err := f(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestNotifier_SendErrorNamesSocket(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "gone.sock")
	t.Setenv("NOTIFY_SOCKET", missing)
	err := NewNotifier(nil).Ready()
	if err == nil || !regexp.MustCompile(regexp.QuoteMeta(missing)).MatchString(err.Error()) {
		t.Fatalf("err = %v, want one naming %s", err, missing)
	}
}

func setWatchdog(t *testing.T, d time.Duration, pid int) {
	t.Helper()
	t.Setenv("WATCHDOG_USEC", strconv.FormatInt(d.Microseconds(), 10))
	t.Setenv("WATCHDOG_PID", strconv.Itoa(pid))
}

// runWatchdog starts RunWatchdog and returns a stop function that cancels
// it and waits for it to return.
func runWatchdog(t *testing.T, n *Notifier, health func(context.Context) error) func() {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.RunWatchdog(ctx, health) }()
	var once sync.Once
	stop := func() { once.Do(func() { stopWatchdog(t, cancel, done) }) }
	t.Cleanup(stop)
	return stop
}

func stopWatchdog(t *testing.T, cancel context.CancelFunc, done chan error) {
	t.Helper()
	{
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("RunWatchdog: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("RunWatchdog did not return after cancel")
		}
	}
}

func TestRunWatchdog_HealthyPings(t *testing.T) {
	c := notifySocket(t)
	setWatchdog(t, 200*time.Millisecond, os.Getpid())
	n := NewNotifier(nil)
	if got := n.WatchdogInterval(); got != 200*time.Millisecond {
		t.Fatalf("WatchdogInterval() = %v", got)
	}
	runWatchdog(t, n, func(context.Context) error { return nil })
	for i := range 3 {
		if got := recv(t, c, 2*time.Second); got != "WATCHDOG=1" {
			t.Fatalf("ping %d = %q, want WATCHDOG=1", i, got)
		}
	}
}

func TestRunWatchdog_UnhealthyStopsThenResumes(t *testing.T) {
	c := notifySocket(t)
	setWatchdog(t, 100*time.Millisecond, os.Getpid())
	checks := make(chan struct{}, 100)
	healthy := make(chan bool, 1)
	healthy <- false
	health := func(context.Context) error {
		h := <-healthy
		healthy <- h
		checks <- struct{}{}
		if !h {
			return errors.New("engine loop stalled")
		}
		return nil
	}
	stop := runWatchdog(t, NewNotifier(nil), health)
	for range 3 { // three failing checks span two ping intervals
		select {
		case <-checks:
		case <-time.After(2 * time.Second):
			t.Fatal("health not checked")
		}
	}
	// a ping of a failed check would have been sent before the next check
	// began, so it would be queued by now
	if got, err := tryRecv(c, time.Millisecond); err == nil {
		t.Fatalf("got %q while unhealthy, want no ping", got)
	}
	<-healthy
	healthy <- true
	if got := recv(t, c, 2*time.Second); got != "WATCHDOG=1" {
		t.Fatalf("after recovery got %q, want WATCHDOG=1", got)
	}
	stop()
}

func TestRunWatchdog_HungCheckCountsAsFailure(t *testing.T) {
	c := notifySocket(t)
	setWatchdog(t, 100*time.Millisecond, os.Getpid())
	checks := make(chan struct{}, 100)
	runWatchdog(t, NewNotifier(nil), func(ctx context.Context) error {
		checks <- struct{}{}
		<-ctx.Done() // never answers in time
		return nil
	})
	for range 3 {
		select {
		case <-checks:
		case <-time.After(2 * time.Second):
			t.Fatal("health not checked")
		}
	}
	if got, err := tryRecv(c, time.Millisecond); err == nil {
		t.Fatalf("got %q from a hung check, want no ping", got)
	}
}

func TestRunWatchdog_NotForThisProcess(t *testing.T) {
	tests := []struct {
		name, usec, pid string
		wantErr         bool
	}{
		{"unset", "", "", false},
		{"other pid", "100000", strconv.Itoa(os.Getpid() + 1), false},
		{"malformed", "soon", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			notifySocket(t)
			t.Setenv("WATCHDOG_USEC", tt.usec)
			t.Setenv("WATCHDOG_PID", tt.pid)
			done := make(chan error, 1)
			go func() {
				done <- NewNotifier(nil).RunWatchdog(context.Background(), func(context.Context) error { return nil })
			}()
			select {
			case err := <-done:
				if (err != nil) != tt.wantErr {
					t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
				}
			case <-time.After(2 * time.Second):
				t.Fatal("RunWatchdog kept running with the watchdog off")
			}
		})
	}
}
