package schedulerd_test

import (
	"context"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/schedulezero/schedulezero/pkg/schedulerd"
	"github.com/schedulezero/schedulezero/pkg/sd"
	"github.com/schedulezero/schedulezero/pkg/sd/sdtest"
	"github.com/schedulezero/schedulezero/pkg/wire"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// get asks the API on a unix socket, bounded by a deadline.
func get(t *testing.T, sock, path string) int {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
	}}
	defer c.CloseIdleConnections()
	resp, err := c.Get("http://scheduler" + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func count(msgs []string, msg string) int {
	n := 0
	for _, m := range msgs {
		if m == msg {
			n++
		}
	}
	return n
}

// TestRun_SystemdSequence runs the whole daemon against a stand-in
// NOTIFY_SOCKET: READY=1 once the API answers, a STATUS= summary,
// WATCHDOG=1 while healthy, RELOADING=1 then READY=1 around a reload, no
// more WATCHDOG=1 once the engine is stalled, and STOPPING=1 on stop.
func TestRun_SystemdSequence(t *testing.T) {
	const watchdog = 400 * time.Millisecond
	sock := sdtest.New(t, watchdog)
	dir := t.TempDir()
	api := filepath.Join(dir, "api.sock")
	opts := schedulerd.Options{
		DBPath:     filepath.Join(dir, "sz.db"),
		ZMQBind:    "ipc://" + filepath.Join(dir, "zmq.sock"),
		HTTPListen: []string{"unix:" + api},
		Notifier:   sd.NewNotifier(nil),
	}
	reload, stall := make(chan struct{}), make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- schedulerd.Run(ctx, opts, reload, stall) }()
	stopped := false
	defer func() {
		if !stopped {
			cancel()
			<-done
		}
	}()
	wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer wcancel()
	await := func(what string, match func(string) bool) int {
		t.Helper()
		i, err := sock.Await(wctx, match)
		if err != nil {
			t.Fatalf("%s: %v; got %q", what, err, sock.Messages())
		}
		return i
	}

	ready := await("READY=1", sdtest.Is("READY=1"))
	if code := get(t, api, "/api/v1/health"); code != http.StatusOK {
		t.Errorf("after READY=1 the API answers %d", code)
	}
	await("STATUS=", sdtest.HasPrefix("STATUS=0 schedules, 0 handlers online, 0 running"))
	await("WATCHDOG=1", sdtest.Is("WATCHDOG=1"))

	reload <- struct{}{}
	reloading := await("RELOADING=1", sdtest.Is("RELOADING=1"))
	if reloading < ready {
		t.Fatalf("RELOADING=1 at %d before READY=1 at %d", reloading, ready)
	}
	if msgs := sock.Messages(); !strings.HasPrefix(msgs[reloading+1], "MONOTONIC_USEC=") {
		t.Errorf("RELOADING=1 without MONOTONIC_USEC: %q", msgs[reloading:])
	}
	if _, err := sock.AwaitAfter(wctx, reloading, sdtest.Is("READY=1")); err != nil {
		t.Fatalf("READY=1 after the reload: %v; got %q", err, sock.Messages())
	}

	// The stalled engine fails its health check: at most the ping already
	// on its way goes out, none in the five intervals after.
	stall <- struct{}{}
	time.Sleep(watchdog / 2) // the ping that may already be on its way
	before := count(sock.Messages(), "WATCHDOG=1")
	time.Sleep(5 * watchdog / 2)
	if after := count(sock.Messages(), "WATCHDOG=1"); after != before {
		t.Errorf("WATCHDOG=1 sent %d more times with the engine stalled", after-before)
	}

	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	stopped = true
	// The datagram may still be on its way to the reader.
	if _, err := sock.AwaitAfter(wctx, reloading, sdtest.Is("STOPPING=1")); err != nil {
		t.Errorf("STOPPING=1 after the reload: %v; got %q", err, sock.Messages())
	}
}

func TestNew_RefusesBadZMQLimits(t *testing.T) {
	dir := t.TempDir()
	_, err := schedulerd.New(context.Background(), schedulerd.Options{DBPath: filepath.Join(dir, "sz.db"),
		ZMQBind: "ipc://" + filepath.Join(dir, "zmq.sock"), HTTPListen: []string{"unix:" + filepath.Join(dir, "api.sock")},
		ZMQLimits: wire.Limits{MaxMessageSize: 1000}})
	if err == nil || !strings.Contains(err.Error(), "zmq-max-message-size 1000") {
		t.Fatalf("err = %v, want one naming zmq-max-message-size", err)
	}
}
