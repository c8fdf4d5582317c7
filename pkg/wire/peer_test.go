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

// repPeer is a handler as the original wrote it: one REP socket, one
// request at a time.
type repPeer struct {
	sock  zmq4.Socket
	count atomic.Int64
	done  chan struct{}
}

func startREP(t *testing.T, ep string, delay func(wire.Request) time.Duration) *repPeer {
	t.Helper()
	sock := zmq4.NewRep(context.Background())
	if err := sock.Listen(ep); err != nil {
		t.Fatal(err)
	}
	p := &repPeer{sock: sock, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		for {
			msg, err := sock.Recv()
			if err != nil {
				return
			}
			p.count.Add(1)
			req, err := wire.DecodeRequest(msg.Frames[0])
			if err != nil {
				_ = sock.Send(zmq4.NewMsgString(`{"success":false,"error":"bad"}`))
				continue
			}
			if delay != nil {
				time.Sleep(delay(req)) // the peer's own work, not a test wait
			}
			var params map[string]any
			_ = json.Unmarshal(req.Params, &params)
			out, _ := json.Marshal(map[string]any{"success": true, "echo": params["n"], "method": req.Method})
			if err := sock.Send(zmq4.NewMsg(out)); err != nil {
				return
			}
		}
	}()
	t.Cleanup(p.Close)
	return p
}

func (p *repPeer) Close() {
	p.sock.Close()
	<-p.done
}

// routerPeer is a pipelined (protocol 2) peer that collects batch requests
// and answers them in reverse order, echoing "id".
type routerPeer struct {
	sock zmq4.Socket
	done chan struct{}
	mu   sync.Mutex
	seen map[string]int
}

func startRouter(t *testing.T, ep string, batch int) *routerPeer {
	t.Helper()
	sock := zmq4.NewRouter(context.Background())
	if err := sock.Listen(ep); err != nil {
		t.Fatal(err)
	}
	p := &routerPeer{sock: sock, done: make(chan struct{}), seen: map[string]int{}}
	go func() {
		defer close(p.done)
		var held []zmq4.Msg
		for {
			msg, err := sock.Recv()
			if err != nil {
				return
			}
			held = append(held, msg)
			if len(held) < batch {
				continue
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
					return
				}
			}
			held = held[:0]
		}
	}()
	t.Cleanup(func() { sock.Close(); <-p.done })
	return p
}
