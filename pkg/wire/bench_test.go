package wire_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"
	"github.com/schedulezero/schedulezero/pkg/wire"
)

// echoRouter answers every request at once, echoing its id; a batch frame
// (protocol 3) gets one batch frame of replies.
func echoRouter(b *testing.B, ep string) func() {
	sock := zmq4.NewRouter(context.Background())
	return servePeer(b, sock, ep, func(msg zmq4.Msg) bool {
		elems, _ := wire.SplitBatch(msg.Frames[len(msg.Frames)-1])
		var outs [][]byte
		for _, b := range elems {
			req, _ := wire.DecodeRequest(b)
			out, _ := json.Marshal(map[string]any{"success": true, "id": req.ID})
			outs = append(outs, out)
		}
		frames := append(append([][]byte{}, msg.Frames[:len(msg.Frames)-1]...), wire.AppendBatch(nil, outs))
		return sock.Send(zmq4.NewMsgFrom(frames...)) == nil
	})
}

// BenchmarkConnCallParallel measures round trips per second through one
// Conn with b.SetParallelism callers (GOMAXPROCS x parallelism in flight).
func BenchmarkConnCallParallel(b *testing.B) {
	for _, proto := range []int{0, 2, 3} {
		for _, tr := range []string{"ipc", "tcp"} {
			b.Run(fmt.Sprintf("protocol=%d/%s", proto, tr), func(b *testing.B) {
				ep := "tcp://127.0.0.1:0"
				if tr == "ipc" {
					ep = "ipc://" + b.TempDir() + "/bench.sock"
				}
				// Listen on a fixed address for tcp: zmq4 resolves port 0.
				sock := zmq4.NewRouter(context.Background())
				if err := sock.Listen(ep); err != nil {
					b.Fatal(err)
				}
				if tr == "tcp" {
					ep = "tcp://" + sock.Addr().String()
				}
				sock.Close()
				stop := echoRouter(b, ep)
				defer stop()
				c := wire.Dial(ep, proto, nil)
				defer c.Close()
				req := wire.Request{Method: "quick_aling", Params: json.RawMessage(`{"n":1}`), ExecutionID: "e", Attempt: 1}
				b.SetParallelism(64)
				b.ResetTimer()
				start := time.Now()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
						r, err := c.Call(ctx, req)
						cancel()
						if err != nil || !r.Success {
							b.Error(err)
							return
						}
					}
				})
				b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "calls/s")
			})
		}
	}
}

// BenchmarkConnGo measures round trips per second through one protocol 3
// Conn with Go and up to 2,048 calls in flight, as the scheduler's fast
// path sends them: no goroutine waits for a reply.
func BenchmarkConnGo(b *testing.B) {
	ep := "ipc://" + b.TempDir() + "/bench.sock"
	stop := echoRouter(b, ep)
	defer stop()
	// With a job token, as the scheduler dials a protocol 4 handler.
	c := wire.Dial(ep, wire.ProtocolLatest, nil, wire.WithJobToken(wire.NewJobToken()))
	defer c.Close()
	req := wire.Request{Method: "quick_aling", Params: json.RawMessage(`{"n":1}`), ExecutionID: "e", Attempt: 1}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	if _, err := c.Call(ctx, req); err != nil { // dial
		b.Fatal(err)
	}
	cancel()
	window := make(chan struct{}, 2048)
	done := make(chan error, 1)
	var left atomic.Int64
	left.Store(int64(b.N))
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		window <- struct{}{}
		if _, ok := c.Go(req, 10*time.Second, func(r wire.Reply, err error) {
			<-window
			if err == nil && !r.Success {
				err = fmt.Errorf("reply %s", r.Raw)
			}
			if err != nil {
				select {
				case done <- err:
				default:
				}
			}
			if left.Add(-1) == 0 {
				done <- nil
			}
		}); !ok {
			b.Fatal("Go refused")
		}
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "calls/s")
}

// BenchmarkRequestCodec measures what a job request costs to encode (the
// scheduler) and to decode in a batch of MaxBatch (the handler), with and
// without the protocol 4 job token, per request.
func BenchmarkRequestCodec(b *testing.B) {
	for _, tc := range []struct {
		name  string
		token string
	}{{"no token", ""}, {"token", wire.NewJobToken()}} {
		req := wire.Request{Method: "quick_aling", Params: json.RawMessage(`{"n":1}`), ID: "1k", ExecutionID: "01JABCDEFGHJKMNPQRSTVWXYZ0",
			ScheduleID: "nightly", Attempt: 1, DeadlineMS: 1767225600000, V: wire.ProtocolLatest, JobToken: tc.token}
		b.Run("encode/"+tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				if _, err := json.Marshal(req); err != nil {
					b.Fatal(err)
				}
			}
		})
		one, _ := json.Marshal(req)
		msgs := make([][]byte, wire.MaxBatch)
		for i := range msgs {
			msgs[i] = one
		}
		frame := wire.AppendBatch(nil, msgs)
		b.Run("decode/"+tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for range b.N / wire.MaxBatch {
				if _, ok := wire.DecodeBatch(frame); !ok {
					b.Fatal("not a batch")
				}
			}
		})
	}
}
