package wire_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"
	"github.com/schedulezero/schedulezero/pkg/wire"
	"github.com/schedulezero/schedulezero/pkg/wire/wiretest"
)

func TestConn_Protocol0(t *testing.T) {
	ep := wiretest.IPC(t, "h.sock")
	peer := startREP(t, ep, func(r wire.Request) time.Duration {
		if r.Method == "slow" {
			return 700 * time.Millisecond
		}
		return 0
	})
	c := wire.Dial(ep, 0, nil)
	defer c.Close()

	t.Run("call", func(t *testing.T) {
		r, err := c.Call(ctxT(t, 5*time.Second), wire.Request{Method: "quick", Params: json.RawMessage(`{"n":1}`)})
		if err != nil || !r.Success {
			t.Fatalf("call: %+v %v", r, err)
		}
	})
	t.Run("slow reply is not re-sent and next call gets its own reply", func(t *testing.T) {
		before := peer.count.Load()
		start := time.Now()
		_, err := c.Call(ctxT(t, 200*time.Millisecond), wire.Request{Method: "slow"})
		if !errors.Is(err, wire.ErrTimeout) {
			t.Fatalf("slow call: %v, want ErrTimeout", err)
		}
		if el := time.Since(start); el > time.Second {
			t.Errorf("timeout took %v", el)
		}
		r, err := c.Call(ctxT(t, 5*time.Second), wire.Request{Method: "quick", Params: json.RawMessage(`{"n":7}`)})
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			Method string  `json:"method"`
			Echo   float64 `json:"echo"`
		}
		json.Unmarshal(r.Raw, &body)
		if body.Method != "quick" || body.Echo != 7 {
			t.Errorf("next call got %s, want the reply to quick n=7", r.Raw)
		}
		if got := peer.count.Load() - before; got != 2 {
			t.Errorf("peer saw %d requests, want 2 (slow once, quick once)", got)
		}
	})
	t.Run("callers take turns", func(t *testing.T) {
		var wg sync.WaitGroup
		for i := range 10 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, err := c.Call(ctxT(t, 5*time.Second), wire.Request{Method: "quick", Params: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))})
				var body struct{ Echo float64 }
				json.Unmarshal(r.Raw, &body)
				if err != nil || int(body.Echo) != i {
					t.Errorf("call %d: %s %v", i, r.Raw, err)
				}
			}()
		}
		wg.Wait()
	})
	t.Run("turn wait ends with ErrUnavailable", func(t *testing.T) {
		base := peer.count.Load() // before the slow call, which may arrive at once
		slow := make(chan error, 1)
		go func() {
			_, err := c.Call(ctxT(t, 5*time.Second), wire.Request{Method: "slow"})
			slow <- err
		}()
		// Wait until the slow call has been received by the peer.
		deadline := time.Now().Add(5 * time.Second)
		for peer.count.Load() == base && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		_, err := c.Call(ctxT(t, 50*time.Millisecond), wire.Request{Method: "quick"})
		if !errors.Is(err, wire.ErrUnavailable) {
			t.Errorf("queued call: %v, want ErrUnavailable", err)
		}
		if err := <-slow; err != nil {
			t.Errorf("slow call: %v", err)
		}
	})
}

func TestConn_PeerRestartMidCall(t *testing.T) {
	ep := wiretest.IPC(t, "h.sock")
	release := make(chan struct{})
	peer := startREP(t, ep, func(r wire.Request) time.Duration {
		if r.Method == "hang" {
			<-release
		}
		return 0
	})
	c := wire.Dial(ep, 0, nil)
	defer c.Close()
	res := make(chan error, 1)
	start := time.Now()
	go func() {
		_, err := c.Call(ctxT(t, 10*time.Second), wire.Request{Method: "hang"})
		res <- err
	}()
	for peer.count.Load() == 0 && time.Since(start) < 5*time.Second {
		time.Sleep(time.Millisecond)
	}
	close(release)
	peer.Close()
	if err := <-res; !errors.Is(err, wire.ErrTimeout) && err != nil {
		t.Fatalf("call across restart: %v, want ErrTimeout or a reply", err)
	}
	startREP(t, ep, nil)
	var err error
	for range 50 {
		_, err = c.Call(ctxT(t, 200*time.Millisecond), wire.Request{Method: "quick"})
		if err == nil {
			return
		}
	}
	t.Fatalf("call after restart: %v", err)
}

func TestConn_PeerAbsent(t *testing.T) {
	for _, tc := range []struct {
		name, ep string
	}{
		{"ipc", wiretest.IPC(t, "nobody.sock")},
		{"tcp", "tcp://127.0.0.1:1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := wire.Dial(tc.ep, 0, nil)
			defer c.Close()
			start := time.Now()
			_, err := c.Call(ctxT(t, 300*time.Millisecond), wire.Request{Method: "ping"})
			if !errors.Is(err, wire.ErrUnavailable) {
				t.Errorf("call: %v, want ErrUnavailable", err)
			}
			if el := time.Since(start); el > time.Second {
				t.Errorf("call took %v, want < 1s", el)
			}
		})
	}
}

func TestConn_Protocol2Pipelining(t *testing.T) {
	ep := wiretest.IPC(t, "p2.sock")
	peer := startRouter(t, ep, 8) // answers in batches of 8, reversed
	c := wire.Dial(ep, 2, nil)
	defer c.Close()
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := fmt.Sprint("m", i)
			r, err := c.Call(ctxT(t, 5*time.Second), wire.Request{Method: m})
			var body struct{ Method string }
			json.Unmarshal(r.Raw, &body)
			if err != nil || body.Method != m {
				t.Errorf("call %s: %s %v", m, r.Raw, err)
			}
		}()
	}
	wg.Wait()
	if err := c.Cancel(ctxT(t, 100*time.Millisecond), "e1", 1); !errors.Is(err, wire.ErrTimeout) {
		// The batch peer holds a lone request: the cancel is sent and times out.
		t.Errorf("cancel: %v, want ErrTimeout", err)
	}
	peer.mu.Lock()
	defer peer.mu.Unlock()
	if peer.seen["m3"] != 1 {
		t.Errorf("m3 seen %d times, want 1", peer.seen["m3"])
	}
}

func TestConn_CancelNeedsProtocol2(t *testing.T) {
	c := wire.Dial("ipc://unused", 0, nil)
	defer c.Close()
	if err := c.Cancel(context.Background(), "e", 1); !errors.Is(err, wire.ErrProtocol) {
		t.Errorf("cancel at protocol 0: %v", err)
	}
}

func TestConn_Closed(t *testing.T) {
	c := wire.Dial("ipc://unused", 2, nil)
	c.Close()
	if _, err := c.Call(context.Background(), wire.Request{Method: "x"}); !errors.Is(err, wire.ErrClosed) {
		t.Errorf("call after close: %v", err)
	}
}

// A peer that sends wire.Closing read none of the requests still without a
// reply: those fail with ErrUnavailable (not sent, so the scheduler may
// send them elsewhere) instead of ErrTimeout, the replies before it still
// arrive, and the next call dials again.
func TestConn_PeerClosing(t *testing.T) {
	for _, proto := range []int{wire.ProtocolPipelined, wire.ProtocolBatched} {
		t.Run(fmt.Sprint("protocol ", proto), func(t *testing.T) {
			ep := wiretest.IPC(t, "closing.sock")
			sock := zmq4.NewRouter(context.Background())
			var held [][]byte // the envelope of "unread"
			holding := make(chan struct{})
			closed := false
			servePeer(t, sock, ep, func(msg zmq4.Msg) bool {
				env := msg.Frames[:len(msg.Frames)-1]
				elems, _ := wire.SplitBatch(msg.Frames[len(msg.Frames)-1])
				for _, b := range elems {
					req, _ := wire.DecodeRequest(b)
					send := func(frame []byte) bool {
						return sock.Send(zmq4.NewMsgFrom(append(slices.Clone(env), frame)...)) == nil
					}
					switch {
					case req.Method == "unread" && !closed:
						held = env
						close(holding)
					case req.Method == "answered" && held != nil && !closed:
						// Its reply, then Closing: "unread" stays without one.
						out, _ := json.Marshal(map[string]any{"success": true, "id": req.ID})
						closed = send(out) && send(wire.Closing)
					default:
						out, _ := json.Marshal(map[string]any{"success": true, "id": req.ID})
						if !send(out) {
							return false
						}
					}
				}
				return true
			})
			c := wire.Dial(ep, proto, nil)
			defer c.Close()
			unread := make(chan error, 1)
			go func() {
				_, err := c.Call(ctxT(t, 10*time.Second), wire.Request{Method: "unread"})
				unread <- err
			}()
			select {
			case <-holding:
			case <-time.After(10 * time.Second):
				t.Fatal("the peer never got the request")
			}
			if r, err := c.Call(ctxT(t, 5*time.Second), wire.Request{Method: "answered"}); err != nil || !r.Success {
				t.Fatalf("answered before Closing: %+v %v", r, err)
			}
			if err := <-unread; !errors.Is(err, wire.ErrUnavailable) || errors.Is(err, wire.ErrTimeout) {
				t.Fatalf("call the peer did not read before Closing: %v, want ErrUnavailable", err)
			}
			if r, err := c.Call(ctxT(t, 5*time.Second), wire.Request{Method: "after"}); err != nil || !r.Success {
				t.Fatalf("call after Closing: %+v %v, want a reply on a new connection", r, err)
			}
		})
	}
}

func TestIsClosing(t *testing.T) {
	for _, tc := range []struct {
		frame string
		want  bool
	}{
		{string(wire.Closing), true},
		{`{"success":false,"closing":true}`, true},
		{`{"success":false,"closing":true,"id":"7"}`, false},
		{`{"success":true,"closing":true}`, false},
		{`{"success":false,"closing":false}`, false},
		{`{"success":false,"error":"closing"}`, false},
		{`{"success":false}`, false},
	} {
		r, err := wire.DecodeReply([]byte(tc.frame))
		if err != nil {
			t.Fatal(err)
		}
		if got := wire.IsClosing(r); got != tc.want {
			t.Errorf("IsClosing(%s) = %v, want %v", tc.frame, got, tc.want)
		}
	}
}
