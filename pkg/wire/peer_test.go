package wire_test

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"
	"github.com/schedulezero/schedulezero/pkg/wire"
)

// servePeer makes sock listen on ep and calls handle with each message
// it receives, on one goroutine, until the socket is closed or handle
// returns false. stop closes the socket and waits for that goroutine; the
// test's cleanup calls it too.
func servePeer(tb testing.TB, sock zmq4.Socket, ep string, handle func(zmq4.Msg) bool) (stop func()) {
	tb.Helper()
	if err := sock.Listen(ep); err != nil {
		tb.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			msg, err := sock.Recv()
			if err != nil || !handle(msg) {
				return
			}
		}
	}()
	stop = func() { sock.Close(); <-done }
	tb.Cleanup(stop)
	return stop
}

// repPeer is a handler as the original wrote it: one REP socket, one
// request at a time.
type repPeer struct {
	count atomic.Int64
	Close func()
}

func startREP(t *testing.T, ep string, delay func(wire.Request) time.Duration) *repPeer {
	t.Helper()
	sock := zmq4.NewRep(context.Background())
	p := &repPeer{}
	p.Close = servePeer(t, sock, ep, func(msg zmq4.Msg) bool {
		p.count.Add(1)
		req, err := wire.DecodeRequest(msg.Frames[0])
		if err != nil {
			_ = sock.Send(zmq4.NewMsgString(`{"success":false,"error":"bad"}`))
			return true
		}
		if delay != nil {
			time.Sleep(delay(req)) // the peer's own work, not a test wait
		}
		var params map[string]any
		_ = json.Unmarshal(req.Params, &params)
		out, _ := json.Marshal(map[string]any{"success": true, "echo": params["n"], "method": req.Method})
		return sock.Send(zmq4.NewMsg(out)) == nil
	})
	return p
}

// routerPeer is a pipelined (protocol 2) peer that collects batch requests
// and answers them in reverse order, echoing "id".
type routerPeer struct {
	mu   sync.Mutex
	seen map[string]int
}

func startRouter(t *testing.T, ep string, batch int) *routerPeer {
	t.Helper()
	sock := zmq4.NewRouter(context.Background())
	p := &routerPeer{seen: map[string]int{}}
	var held []zmq4.Msg
	servePeer(t, sock, ep, func(msg zmq4.Msg) bool {
		held = append(held, msg)
		if len(held) < batch {
			return true
		}
		for i := len(held) - 1; i >= 0; i-- {
			m := held[i]
			req, _ := wire.DecodeRequest(m.Frames[len(m.Frames)-1])
			p.mu.Lock()
			p.seen[req.Method]++
			p.mu.Unlock()
			out, _ := json.Marshal(map[string]any{"success": true, "id": req.ID, "method": req.Method, "params": req.Params})
			frames := append(append([][]byte{}, m.Frames[:len(m.Frames)-1]...), out)
			if err := sock.Send(zmq4.NewMsgFrom(frames...)); err != nil {
				return false
			}
		}
		held = held[:0]
		return true
	})
	return p
}
