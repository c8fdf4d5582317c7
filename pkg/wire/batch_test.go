package wire_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"
	"github.com/schedulezero/schedulezero/pkg/wire"
)

// batchPeer is a protocol 3 peer: it reads request frames that may be
// batches and answers each frame with one batch frame of replies, unless
// its method is "hold", which is never answered.
type batchPeer struct {
	close func()

	mu      sync.Mutex
	frames  int // request frames received
	largest int // most requests in one frame
}

func startBatchPeer(t *testing.T) (*batchPeer, string) {
	t.Helper()
	ep := "ipc://" + t.TempDir() + "/b.sock"
	sock := zmq4.NewRouter(context.Background())
	p := &batchPeer{}
	p.close = servePeer(t, sock, ep, func(msg zmq4.Msg) bool {
		elems, err := wire.SplitBatch(msg.Frames[len(msg.Frames)-1])
		if err != nil {
			t.Errorf("peer: %v", err)
			return false
		}
		p.mu.Lock()
		p.frames++
		p.largest = max(p.largest, len(elems))
		p.mu.Unlock()
		var replies [][]byte
		for _, b := range elems {
			req, err := wire.DecodeRequest(b)
			if err != nil {
				t.Errorf("peer: %v", err)
				return false
			}
			if req.V != wire.ProtocolBatched {
				t.Errorf("peer: request v=%d, want %d", req.V, wire.ProtocolBatched)
			}
			if req.Method == "hold" {
				continue
			}
			out, _ := json.Marshal(map[string]any{"success": true, "id": req.ID, "echo": req.ExecutionID})
			replies = append(replies, out)
		}
		if len(replies) == 0 {
			return true
		}
		frames := append(append([][]byte{}, msg.Frames[:len(msg.Frames)-1]...), wire.AppendBatch(nil, replies))
		return sock.Send(zmq4.NewMsgFrom(frames...)) == nil
	})
	return p, ep
}

// connect makes c dial by one Call, so that Go has a link to use.
func connect(t *testing.T, c *wire.Conn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if r, err := c.Call(ctx, wire.Request{Method: "m", ExecutionID: "first"}); err != nil || !r.Success {
		t.Fatalf("first call: %+v, %v", r, err)
	}
}

type outcome struct {
	r   wire.Reply
	err error
}

func TestConnGo_ManyInFlightBatched(t *testing.T) {
	peer, ep := startBatchPeer(t)
	c := wire.Dial(ep, wire.ProtocolBatched, nil)
	defer c.Close()
	connect(t, c)
	const n = 2000
	results := make(chan outcome, n)
	for i := range n {
		_, ok := c.Go(wire.Request{Method: "m", ExecutionID: fmt.Sprint(i)}, 10*time.Second, func(r wire.Reply, err error) {
			results <- outcome{r, err}
		})
		if !ok {
			t.Fatalf("Go %d refused on a live connection", i)
		}
	}
	seen := map[string]bool{}
	for range n {
		o := <-results
		if o.err != nil || !o.r.Success {
			t.Fatalf("outcome %+v", o)
		}
		var body struct{ Echo string }
		if err := json.Unmarshal(o.r.Raw, &body); err != nil || seen[body.Echo] {
			t.Fatalf("reply %s: duplicate or bad (%v)", o.r.Raw, err)
		}
		seen[body.Echo] = true
	}
	peer.mu.Lock()
	defer peer.mu.Unlock()
	if peer.largest < 2 || peer.frames >= n {
		t.Errorf("%d requests arrived in %d frames (largest %d); want batches", n, peer.frames, peer.largest)
	}
}

func TestConnGo_TimeoutAbortAndRefusal(t *testing.T) {
	_, ep := startBatchPeer(t)
	c := wire.Dial(ep, wire.ProtocolBatched, nil)
	defer c.Close()
	if _, ok := c.Go(wire.Request{Method: "m"}, time.Second, func(wire.Reply, error) { t.Error("called") }); ok {
		t.Fatal("Go accepted a call before the connection was up")
	}
	if _, ok := wire.Dial(ep, wire.ProtocolPipelined, nil).Go(wire.Request{Method: "m"}, time.Second, nil); ok {
		t.Fatal("Go accepted a protocol 2 call")
	}
	connect(t, c)

	got := make(chan outcome, 2)
	start := time.Now()
	if _, ok := c.Go(wire.Request{Method: "hold"}, 50*time.Millisecond, func(r wire.Reply, err error) { got <- outcome{r, err} }); !ok {
		t.Fatal("Go refused")
	}
	o := <-got
	if !errors.Is(o.err, wire.ErrTimeout) || !errors.Is(o.err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Fatalf("unanswered call: %v after %v; want ErrTimeout wrapping DeadlineExceeded", o.err, time.Since(start))
	}

	cause := errors.New("replaced")
	p, ok := c.Go(wire.Request{Method: "hold"}, time.Hour, func(r wire.Reply, err error) { got <- outcome{r, err} })
	if !ok {
		t.Fatal("Go refused")
	}
	p.Abort(cause)
	p.Abort(cause) // a second abort does nothing
	o = <-got
	if !errors.Is(o.err, cause) || !(errors.Is(o.err, wire.ErrTimeout) || errors.Is(o.err, wire.ErrUnavailable)) {
		t.Fatalf("aborted call: %v", o.err)
	}
	select {
	case o := <-got:
		t.Fatalf("second outcome %+v", o)
	default:
	}
}

func TestConnGo_PeerGoneEndsCalls(t *testing.T) {
	peer, ep := startBatchPeer(t)
	c := wire.Dial(ep, wire.ProtocolBatched, nil)
	defer c.Close()
	connect(t, c)
	got := make(chan outcome, 1)
	if _, ok := c.Go(wire.Request{Method: "hold"}, time.Hour, func(r wire.Reply, err error) { got <- outcome{r, err} }); !ok {
		t.Fatal("Go refused")
	}
	peer.close()
	select {
	case o := <-got:
		if !errors.Is(o.err, wire.ErrTimeout) && !errors.Is(o.err, wire.ErrUnavailable) {
			t.Fatalf("call to a peer that went away: %v", o.err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("a call to a peer that went away did not end")
	}
}

func TestSplitBatch(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr bool
	}{
		{`{"a":1}`, []string{`{"a":1}`}, false},
		{` [{"a":1}, {"b":2}] `, []string{`{"a":1}`, `{"b":2}`}, false},
		{`[]`, nil, true},
		{`[{"a":1}`, nil, true},
		{`not json`, []string{`not json`}, false}, // DecodeRequest names the error
	}
	for _, tt := range tests {
		got, err := wire.SplitBatch([]byte(tt.in))
		if (err != nil) != tt.wantErr {
			t.Errorf("SplitBatch(%s) error %v", tt.in, err)
			continue
		}
		var s []string
		for _, g := range got {
			s = append(s, string(g))
		}
		if fmt.Sprint(s) != fmt.Sprint(tt.want) {
			t.Errorf("SplitBatch(%s) = %q, want %q", tt.in, s, tt.want)
		}
		if !tt.wantErr && len(got) > 0 {
			if back := string(wire.AppendBatch(nil, got)); len(got) == 1 && back != string(got[0]) {
				t.Errorf("AppendBatch of one = %s", back)
			}
		}
	}
}

func TestDecodeBatch(t *testing.T) {
	tests := []struct {
		in   string
		want int // requests; -1: not decoded in one pass
	}{
		{`[{"method":"a","id":"1"},{"method":"b","params":{"x":1}}]`, 2},
		{`[{"method":"a","params":null}]`, 1},
		{`{"method":"a"}`, -1},                               // not a batch
		{`[{"method":"a"},{"method":""}]`, -1},               // one without a method
		{`[{"method":"a"},{"method":"b","params":[1]}]`, -1}, // params not an object
		{`[{"method":"a"},`, -1},
		{`[]`, -1},
	}
	for _, tt := range tests {
		reqs, ok := wire.DecodeBatch([]byte(tt.in))
		got := len(reqs)
		if !ok {
			got = -1
		}
		if got != tt.want {
			t.Errorf("DecodeBatch(%s) = %d requests, ok %v; want %d", tt.in, len(reqs), ok, tt.want)
		}
	}
}
