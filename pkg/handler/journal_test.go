package handler_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/handler"
	"github.com/schedulezero/schedulezero/pkg/wire"
	"github.com/schedulezero/schedulezero/pkg/wire/wiretest"
)

// onceFixture is a handler whose methods count their runs, served with a
// journal in dir.
type onceFixture struct {
	logs    lockedBuffer
	runs    atomic.Int64
	started chan struct{}
	release chan struct{}
}

func (f *onceFixture) mux() *handler.Mux {
	m := handler.NewMux()
	m.HandleFunc("count", func(context.Context, *handler.Job) (any, error) {
		return map[string]any{"run": f.runs.Add(1)}, nil
	})
	m.HandleFunc("slow", func(ctx context.Context, _ *handler.Job) (any, error) {
		n := f.runs.Add(1)
		f.started <- struct{}{}
		select {
		case <-f.release:
			return map[string]any{"run": n}, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	})
	return m
}

func (f *onceFixture) serve(t *testing.T, reg *wiretest.Registry, srv *wire.Server, name, dir string) (*wire.Conn, func()) {
	t.Helper()
	stop := startHandler(t, f.mux(), handler.Options{Name: name, Scheduler: srv.Addr(), JournalDir: dir,
		Logger: slog.New(slog.NewTextHandler(&f.logs, nil)), Endpoint: wiretest.IPC(t, name+".sock")})
	h, _, ok := reg.Handler(name)
	if !ok || h.Protocol != wire.ProtocolJournal {
		t.Fatalf("registration %+v, want protocol 5", h)
	}
	c := wire.Dial(h.Address, h.Protocol, nil, wire.WithJobToken(h.JobToken))
	t.Cleanup(func() { c.Close() })
	return c, stop
}

func known(t *testing.T, c *wire.Conn, id string, attempt int) wire.Known {
	t.Helper()
	r, err := c.Call(ctxT(t, 5*time.Second), wire.KnownRequest(id, attempt))
	if err != nil {
		t.Fatal(err)
	}
	k, err := wire.DecodeKnown(r)
	if err != nil {
		t.Fatalf("%s: %v", r.Raw, err)
	}
	return k
}

// A job that arrives again with the same execution id and attempt (a
// re-send after a lost reply, a replay) is answered from the journal and
// not run again, also by the next process of the handler; one that
// arrives while the first copy runs waits for its reply; sz.known says
// finished (with the reply), running or unknown.
func TestServe_RepeatedJobIsAnsweredNotRun(t *testing.T) {
	reg := wiretest.NewRegistry()
	srv := wiretest.Serve(t, reg)
	dir := t.TempDir()
	f := &onceFixture{started: make(chan struct{}, 4), release: make(chan struct{})}
	c, stop := f.serve(t, reg, srv, "once", dir)

	job := wire.Request{Method: "count", ExecutionID: "ex-1", Attempt: 1}
	first, err := c.Call(ctxT(t, 5*time.Second), job)
	if err != nil || !first.Success {
		t.Fatalf("first: %s %v", first.Raw, err)
	}
	again, err := c.Call(ctxT(t, 5*time.Second), job)
	if err != nil || !again.Success || body(t, again)["run"] != body(t, first)["run"] {
		t.Fatalf("the same attempt again: %s %v, want the first reply %s", again.Raw, err, first.Raw)
	}
	if n := f.runs.Load(); n != 1 {
		t.Fatalf("the method ran %d times for one attempt sent twice, want 1", n)
	}
	if k := known(t, c, "ex-1", 1); k.State != wire.KnownFinished || !k.Reply.Success || body(t, k.Reply)["run"] != body(t, first)["run"] {
		t.Fatalf("known ex-1/1: %+v %s", k, k.Reply.Raw)
	}
	if k := known(t, c, "ex-1", 2); k.State != wire.KnownUnknown {
		t.Fatalf("known ex-1/2 (never sent): %+v", k)
	}
	next, err := c.Call(ctxT(t, 5*time.Second), wire.Request{Method: "count", ExecutionID: "ex-1", Attempt: 3})
	if err != nil || !next.Success || f.runs.Load() != 2 {
		t.Fatalf("another attempt of the same execution runs: %s %v, runs %d", next.Raw, err, f.runs.Load())
	}

	// A copy that arrives while the attempt runs gets the same reply.
	slow := wire.Request{Method: "slow", ExecutionID: "ex-2", Attempt: 1}
	replies := make(chan wire.Reply, 2)
	go func() { r, _ := c.Call(ctxT(t, 10*time.Second), slow); replies <- r }()
	<-f.started
	if k := known(t, c, "ex-2", 1); k.State != wire.KnownRunning {
		t.Fatalf("known ex-2/1 while it runs: %+v", k)
	}
	go func() { r, _ := c.Call(ctxT(t, 10*time.Second), slow); replies <- r }()
	f.awaitAttached(t)
	close(f.release)
	a, b := <-replies, <-replies
	if !a.Success || !b.Success || body(t, a)["run"] != body(t, b)["run"] {
		t.Fatalf("the two copies of a running attempt: %s and %s, want the same success", a.Raw, b.Raw)
	}
	if n := f.runs.Load(); n != 3 {
		t.Fatalf("runs = %d, want 3 (the copy attached, not run)", n)
	}

	// The next process of the handler (a new job token) reads the journal.
	stop()
	c2, _ := f.serve(t, reg, srv, "once", dir)
	again, err = c2.Call(ctxT(t, 5*time.Second), job)
	if err != nil || !again.Success || body(t, again)["run"] != body(t, first)["run"] {
		t.Fatalf("after a restart of the handler: %s %v, want the first reply %s", again.Raw, err, first.Raw)
	}
	if k := known(t, c2, "ex-2", 1); k.State != wire.KnownFinished {
		t.Fatalf("known ex-2/1 after a restart: %+v", k)
	}
	if n := f.runs.Load(); n != 3 {
		t.Fatalf("runs = %d after the restart, want 3", n)
	}
}

// Without a journal a repeated attempt that is no longer running runs
// again (at-least-once), and sz.known says unknown.
func TestServe_NoJournalRunsARepeatAgain(t *testing.T) {
	reg := wiretest.NewRegistry()
	srv := wiretest.Serve(t, reg)
	f := &onceFixture{}
	c, _ := f.serve(t, reg, srv, "plain", "")
	job := wire.Request{Method: "count", ExecutionID: "ex-1", Attempt: 1}
	for range 2 {
		if r, err := c.Call(ctxT(t, 5*time.Second), job); err != nil || !r.Success {
			t.Fatalf("%s %v", r.Raw, err)
		}
	}
	if n := f.runs.Load(); n != 2 {
		t.Fatalf("runs = %d, want 2", n)
	}
	if k := known(t, c, "ex-1", 1); k.State != wire.KnownUnknown {
		t.Fatalf("known without a journal: %+v", k)
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// BenchmarkServe_Journal is a handler's throughput through its socket with
// the journal off and on: 128 jobs in flight on one connection (batch
// frames), each its own execution. The difference is the journal's cost
// per job as the scheduler sees it.
func BenchmarkServe_Journal(b *testing.B) {
	for _, on := range []bool{false, true} {
		b.Run(fmt.Sprintf("journal=%v", on), func(b *testing.B) {
			reg := wiretest.NewRegistry()
			srv := wiretest.Serve(b, reg)
			m := handler.NewMux()
			m.HandleFunc("quick", func(context.Context, *handler.Job) (any, error) { return "ok", nil })
			opts := handler.Options{Name: "bench", Scheduler: srv.Addr(), Concurrency: 128,
				Logger: slog.New(slog.DiscardHandler), Endpoint: wiretest.IPC(b, "bench.sock")}
			if on {
				opts.JournalDir = b.TempDir()
			}
			startHandler(b, m, opts)
			h, _, _ := reg.Handler("bench")
			c := wire.Dial(h.Address, h.Protocol, nil, wire.WithJobToken(h.JobToken))
			defer c.Close()
			var n atomic.Int64
			b.SetParallelism(64) // × GOMAXPROCS callers
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					r, err := c.Call(ctx, wire.Request{Method: "quick", ExecutionID: fmt.Sprint("ex-", n.Add(1)), Attempt: 1})
					cancel()
					if err != nil || !r.Success {
						b.Errorf("%s %v", r.Raw, err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
		})
	}
}

// After a failover the new scheduler asks about an attempt whose request
// from the old one is still on its way; answered unknown, the attempt is
// retried as a new one, so the late request must not run: an attempt
// answered unknown is refused as not run when it arrives, while another
// attempt of the same execution runs.
func TestServe_AnAttemptAnsweredUnknownIsNotRunWhenItArrivesLater(t *testing.T) {
	reg := wiretest.NewRegistry()
	srv := wiretest.Serve(t, reg)
	f := &onceFixture{}
	c, _ := f.serve(t, reg, srv, "disown", t.TempDir())
	if k := known(t, c, "ex-1", 1); k.State != wire.KnownUnknown {
		t.Fatalf("known ex-1/1 before it arrived: %+v", k)
	}
	late, err := c.Call(ctxT(t, 5*time.Second), wire.Request{Method: "count", ExecutionID: "ex-1", Attempt: 1})
	if err != nil {
		t.Fatal(err)
	}
	if late.Success || !late.NotRun || f.runs.Load() != 0 {
		t.Fatalf("the attempt answered unknown, arriving late: %s (ran %d times); want refused as not run", late.Raw, f.runs.Load())
	}
	if k := known(t, c, "ex-1", 1); k.State != wire.KnownUnknown {
		t.Fatalf("known ex-1/1 after it was refused: %+v", k)
	}
	retry, err := c.Call(ctxT(t, 5*time.Second), wire.Request{Method: "count", ExecutionID: "ex-1", Attempt: 2})
	if err != nil || !retry.Success || f.runs.Load() != 1 {
		t.Fatalf("the retry, attempt 2: %s %v, runs %d; want it run once", retry.Raw, err, f.runs.Load())
	}
}

// Without a journal a reply is encoded with its request's id; a copy that
// arrived while the attempt ran still gets the reply under its own id.
func TestServe_CopyOfRunningJobWithoutJournal(t *testing.T) {
	reg := wiretest.NewRegistry()
	srv := wiretest.Serve(t, reg)
	f := &onceFixture{started: make(chan struct{}, 4), release: make(chan struct{})}
	c, _ := f.serve(t, reg, srv, "nojournal", "")
	slow := wire.Request{Method: "slow", ExecutionID: "ex-9", Attempt: 1}
	replies := make(chan wire.Reply, 2)
	call := func() {
		r, err := c.Call(ctxT(t, 10*time.Second), slow)
		if err != nil {
			t.Error(err)
		}
		replies <- r
	}
	go call()
	<-f.started
	go call()
	f.awaitAttached(t)
	close(f.release)
	a, b := <-replies, <-replies
	if !a.Success || !b.Success || a.ID == b.ID || body(t, a)["run"] != body(t, b)["run"] {
		t.Fatalf("the two copies: %s and %s, want one success under two ids", a.Raw, b.Raw)
	}
}

// awaitAttached waits until the handler logged that a copy of a running
// attempt was attached to it.
func (f *onceFixture) awaitAttached(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(f.logs.String(), "job already running") {
		if time.Now().After(deadline) {
			t.Fatal("the copy was not attached to the running attempt")
		}
		time.Sleep(5 * time.Millisecond) // polls the log for the line
	}
}
