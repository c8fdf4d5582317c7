package handler_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/handler"
	"github.com/schedulezero/schedulezero/pkg/handler/dingaling"
	"github.com/schedulezero/schedulezero/pkg/wire"
	"github.com/schedulezero/schedulezero/pkg/wire/wiretest"
)

// BenchmarkServe_Jobs is the per-job path of a handler process as the
// throughput bench drives it: a pipelining scheduler connection
// (protocol 3 batches, a window of requests in flight, each with a
// deadline) and the dingaling handler's quick_aling. The client's side is
// in the numbers too, the same on both sides of a comparison.
func BenchmarkServe_Jobs(b *testing.B) {
	reg := wiretest.NewRegistry()
	srv := wiretest.Serve(b, reg)
	mux := handler.NewMux()
	dingaling.New(nil).Register(mux)
	startHandler(b, mux, handler.Options{Name: "bench", Scheduler: srv.Addr(), Concurrency: 20000})
	h, _, ok := reg.Handler("bench")
	if !ok {
		b.Fatal("not registered")
	}
	c := wire.Dial(h.Address, wire.ProtocolLatest, nil, wire.WithJobToken(h.JobToken))
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := c.Call(ctx, wire.Request{Method: "ping"}); err != nil {
		b.Fatal(err)
	}
	const window = 1024
	slots := make(chan struct{}, window)
	errs := make(chan error, 1)
	done := func(r wire.Reply, err error) {
		if err == nil && !r.Success {
			err = fmt.Errorf("reply %s", r.Raw)
		}
		if err != nil {
			select {
			case errs <- err:
			default:
			}
		}
		<-slots
	}
	params := json.RawMessage(`{}`)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		slots <- struct{}{}
		req := wire.Request{Method: "quick_aling", Params: params, ExecutionID: fmt.Sprintf("01JBENCH%018d", i),
			ScheduleID: "bench-00001", Attempt: 1, DeadlineMS: time.Now().Add(time.Minute).UnixMilli()}
		if _, ok := c.Go(req, time.Minute, done); !ok {
			b.Fatal("not sent")
		}
	}
	for range window {
		slots <- struct{}{}
	}
	b.StopTimer()
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}
}
