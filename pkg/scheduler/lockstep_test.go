package scheduler_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"

	"github.com/schedulezero/schedulezero/pkg/scheduler"
	"github.com/schedulezero/schedulezero/pkg/scheduler/schedtype"
	"github.com/schedulezero/schedulezero/pkg/store"
	"github.com/schedulezero/schedulezero/pkg/wire"
	"github.com/schedulezero/schedulezero/pkg/wire/wiretest"
)

// serveOld runs, on ep until the test ends, a handler that answers one
// request at a time: at protocol 0 as the original wrote it (a REP
// socket), at protocol 2 on a ROUTER, echoing the request's "id". It
// counts the jobs it answered.
func serveOld(t *testing.T, ep string, protocol int) *atomic.Int64 {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	sock := zmq4.NewRep(ctx)
	if protocol >= wire.ProtocolPipelined {
		sock = zmq4.NewRouter(ctx)
	}
	if err := sock.Listen(ep); err != nil {
		t.Fatal(err)
	}
	var jobs atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			msg, err := sock.Recv()
			if err != nil {
				return
			}
			last := len(msg.Frames) - 1 // before it, a ROUTER's peer identity
			req, err := wire.DecodeRequest(msg.Frames[last])
			out := []byte(`{"success":false,"error":"bad request"}`)
			if err == nil {
				jobs.Add(1)
				out, _ = json.Marshal(map[string]any{"success": true, "id": req.ID, "result": req.Method + " done"})
			}
			frames := append(append([][]byte{}, msg.Frames[:last]...), out)
			if sock.Send(zmq4.NewMsgFrom(frames...)) != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { _ = sock.Close(); cancel(); <-done })
	return &jobs
}

// A handler that cannot pipeline (the original's protocol 0; protocol 2,
// which has no batches) takes the route every execution takes: its
// connection's Go runs Call on a goroutine (scheduler.WireConn). Runs on
// demand, several at once, and a schedule's fires all succeed.
func TestScheduler_LockStepHandlerRunsJobs(t *testing.T) {
	for _, protocol := range []int{wire.ProtocolOriginal, wire.ProtocolPipelined} {
		t.Run(fmt.Sprintf("protocol %d", protocol), func(t *testing.T) {
			ctx := context.Background()
			b := setup(t, scheduler.Options{})
			ep := wiretest.IPC(t, "rep")
			jobs := serveOld(t, ep, protocol)
			if _, err := b.engine.Registry().Register(ctx, wire.Registration{
				HandlerID: "old", Address: ep, Methods: []string{"work"}, Protocol: protocol, Concurrency: 2,
			}); err != nil {
				t.Fatal(err)
			}
			const runs = 4
			var wg sync.WaitGroup
			got := make([]store.Execution, runs)
			errs := make([]error, runs)
			for i := range runs {
				wg.Go(func() {
					got[i], errs[i] = b.engine.RunNow(ctx, schedtype.RunRequest{HandlerID: "old", Method: "work", Timeout: 5 * time.Second})
				})
			}
			wg.Wait()
			for i, ex := range got {
				if errs[i] != nil || ex.Status != store.StatusSucceeded || string(ex.Result) == "" {
					t.Fatalf("run %d: %s %q result %s (err %v), want succeeded", i, ex.Status, ex.Error, ex.Result, errs[i])
				}
			}
			if _, err := b.engine.AddSchedule(ctx, schedtype.ScheduleRequest{
				ID: "s", HandlerID: "old", Method: "work", Timeout: 5 * time.Second,
				Trigger: json.RawMessage(`{"type":"interval","seconds":0.02}`), Policy: store.Policy{MaxRuns: 3},
			}); err != nil {
				t.Fatal(err)
			}
			await(t, "three fires succeeded", func() bool {
				return countStatus(b.executions(t, store.ExecutionFilter{ScheduleID: "s"}), store.StatusSucceeded) == 3
			})
			if n := jobs.Load(); n != runs+3 {
				t.Fatalf("the handler answered %d jobs, want %d", n, runs+3)
			}
		})
	}
}
