package handler_test

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"
	"github.com/schedulezero/schedulezero/pkg/handler"
	"github.com/schedulezero/schedulezero/pkg/wire"
	"github.com/schedulezero/schedulezero/pkg/wire/wiretest"
)

// maxBurstGoroutines bounds the goroutines a burst of quick jobs adds to
// the handler: every collection scans each goroutine's stack, so a
// goroutine per job in flight (what a burst of 1,024 jobs in four batch
// frames cost before: about a thousand) is paid for by every job.
const maxBurstGoroutines = 64

// A burst of quick jobs, straight from a pipelining scheduler's batch
// frames, runs on a handful of workers, not a goroutine each.
func TestServe_BurstRunsOnFewGoroutines(t *testing.T) {
	reg := wiretest.NewRegistry()
	srv := wiretest.Serve(t, reg)
	var peak atomic.Int64
	mux := handler.NewMux()
	mux.HandleFunc("quick", func(context.Context, *handler.Job) (any, error) {
		n := int64(runtime.NumGoroutine())
		for m := peak.Load(); n > m && !peak.CompareAndSwap(m, n); m = peak.Load() {
		}
		return map[string]any{"ok": 1}, nil
	})
	startHandler(t, mux, handler.Options{Name: "burst", Scheduler: srv.Addr(), Concurrency: 20000})
	h, _, ok := reg.Handler("burst")
	if !ok {
		t.Fatal("not registered")
	}
	sock := zmq4.NewDealer(context.Background(), zmq4.WithTimeout(5*time.Second))
	defer sock.Close()
	if err := sock.Dial(h.Address); err != nil {
		t.Fatal(err)
	}
	base := runtime.NumGoroutine()
	const frames = 4
	deadline := time.Now().Add(time.Minute).UnixMilli()
	for f := range frames {
		msgs := make([][]byte, wire.MaxBatch)
		for i := range msgs {
			msgs[i], _ = json.Marshal(wire.Request{Method: "quick", ID: fmt.Sprintf("%d-%d", f, i), V: wire.ProtocolLatest,
				ExecutionID: fmt.Sprintf("01JBURST%06d%06d", f, i), Attempt: 1, DeadlineMS: deadline, JobToken: h.JobToken})
		}
		if err := sock.Send(zmq4.NewMsg(wire.AppendBatch(nil, msgs))); err != nil {
			t.Fatal(err)
		}
	}
	for n := 0; n < frames*wire.MaxBatch; {
		msg, err := sock.Recv()
		if err != nil {
			t.Fatalf("after %d replies: %v", n, err)
		}
		elems, err := wire.SplitBatch(msg.Frames[len(msg.Frames)-1])
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range elems {
			if r, err := wire.DecodeReply(e); err != nil || !r.Success {
				t.Fatalf("reply %s: %v", e, err)
			}
		}
		n += len(elems)
	}
	added := int(peak.Load()) - base
	t.Logf("%d jobs in %d frames: at most %d goroutines more than before the burst", frames*wire.MaxBatch, frames, added)
	if added > maxBurstGoroutines {
		t.Errorf("a burst of %d quick jobs added %d goroutines, want at most %d", frames*wire.MaxBatch, added, maxBurstGoroutines)
	}
}
