package integration

import (
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/store"
	"github.com/schedulezero/schedulezero/pkg/wire/wiretest"
)

// hostileZMTP sends the frames of issue 12 to endpoint, each on its own
// connection: a NULL greeting, then a READY command whose length claims
// 1<<62 bytes (a makeslice panic in zmq4 v0.17.0) or 64 GiB (out of
// memory). Each connection must be dropped.
func hostileZMTP(t *testing.T, endpoint string) {
	t.Helper()
	for _, size := range []uint64{1 << 62, 64 << 30} {
		c := wiretest.DialRaw(t, endpoint)
		in := append(append(wiretest.Greeting(), wiretest.FrameHeader(wiretest.FlagCommand, size)...), "\x05READY"...)
		if _, err := c.Write(in); err != nil {
			t.Fatal(err)
		}
		wiretest.AwaitDropped(t, c, 10*time.Second)
	}
}

// stalled opens a connection that never completes its handshake.
func stalled(t *testing.T, endpoint string) net.Conn {
	t.Helper()
	c := wiretest.DialRaw(t, endpoint)
	if _, err := c.Write(wiretest.Greeting()[:20]); err != nil {
		t.Fatal(err)
	}
	return c
}

func alive(t *testing.T, ps ...*proc) {
	t.Helper()
	for _, p := range ps {
		select {
		case <-p.done:
			t.Fatalf("%s exited: %s", p.name, p.cmd.ProcessState)
		default:
		}
	}
}

// TestZMTPEdge_RealProcesses: one connection can neither crash the
// scheduler or a handler nor keep others from being served.
func TestZMTPEdge_RealProcesses(t *testing.T) {
	d := newDeployment(t)
	sched, a := d.startScheduler(t, "--zmq-handshake-timeout", "1h")
	hostileZMTP(t, d.zmq)
	idle := stalled(t, d.zmq) // held, with a deadline longer than the test

	cfg := writeExecHandler(t, d.dir, "worker", 2, map[string][]string{"fast": {"/bin/sh", "-c", "echo ok"}})
	endpoint := "ipc://" + filepath.Join(d.dir, "worker.sock")
	h := d.startHandler(t, a, "worker", "--config", cfg, "--endpoint", endpoint, "--zmq-handshake-timeout", "1h")
	hostileZMTP(t, endpoint)
	stalled(t, endpoint)

	// A stalled connection is dropped at the deadline (default 5 s).
	h2 := d.startHandler(t, a, "worker2", "--config", writeExecHandler(t, d.dir, "worker2", 1, map[string][]string{"fast": {"/bin/true"}}),
		"--endpoint", "ipc://"+filepath.Join(d.dir, "worker2.sock"))
	start := time.Now()
	wiretest.AwaitDropped(t, stalled(t, "ipc://"+filepath.Join(d.dir, "worker2.sock")), 20*time.Second)
	if took := time.Since(start); took < 4*time.Second {
		t.Errorf("dropped after %s, before the default 5 s deadline", took)
	}

	var rec execRecord
	if _, err := a.do("POST", "/api/v1/run", map[string]any{"handler_id": "worker", "job_method": "fast", "timeout": "10s"}, &rec); err != nil {
		t.Fatal(err)
	}
	if rec.Status != store.StatusSucceeded {
		t.Fatalf("job after the hostile connections: %+v", rec)
	}
	alive(t, sched, h, h2)
	idle.Close()
}
