package schedulerd_test

// rest drives a whole daemon with the original's request bodies; the
// legacy tests share it.

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/handler"
	"github.com/schedulezero/schedulezero/pkg/handler/dingaling"
	"github.com/schedulezero/schedulezero/pkg/schedulerd"
)

// rest is a whole daemon serving its API on a loopback port, with the
// dingaling runner registered over ZeroMQ, driven with the original's
// request bodies.
type rest struct {
	url   string
	token string
	c     *http.Client
}

// startRest runs the daemon and a dingaling handler that also has a method
// "fail_aling", which always fails, until the test ends.
func startRest(t *testing.T, opts schedulerd.Options) *rest {
	t.Helper()
	r, zmq, dir := startDaemon(t, opts)
	mux := handler.NewMux()
	dingaling.New(nil).Register(mux)
	mux.HandleFunc("fail_aling", func(context.Context, *handler.Job) (any, error) {
		return nil, errors.New("no bell")
	})
	hctx, cancel := context.WithCancel(context.Background())
	ready, done := make(chan struct{}), make(chan error, 1)
	go func() {
		done <- handler.Serve(hctx, mux, handler.Options{Name: "dingaling", Endpoint: "ipc://" + filepath.Join(dir, "h.sock"),
			Scheduler: zmq, ReadyFunc: func() { close(ready) }})
	}()
	t.Cleanup(func() { cancel(); <-done }) // runs before the daemon's Stop
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("handler: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("handler did not register within 10s")
	}
	return r
}

// startDaemon runs the daemon until the test ends and returns its API, its
// registration endpoint and its directory.
func startDaemon(t *testing.T, opts schedulerd.Options) (*rest, string, string) {
	t.Helper()
	dir := t.TempDir()
	opts.DBPath = filepath.Join(dir, "sz.db")
	opts.ZMQBind = "ipc://" + filepath.Join(dir, "zmq.sock")
	opts.HTTPListen = []string{"127.0.0.1:0"}
	opts.Location = time.UTC
	d := daemon(t, opts)

	r := &rest{url: "http://" + d.HTTPAddrs()[0].String(), c: &http.Client{Timeout: 20 * time.Second}}
	if len(opts.Tokens) > 0 {
		r.token = opts.Tokens[0]
	}
	t.Cleanup(r.c.CloseIdleConnections)
	return r, d.ZMQAddr(), dir
}

// do sends a request (body "" for none) with the token, if any, and returns
// the response with its body read.
// answer is what a test reads of a response whose body do has already
// read and closed.
type answer struct {
	StatusCode int
	Header     http.Header
}

func (r *rest) do(t *testing.T, method, path, body string, hdr ...string) (answer, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, r.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if r.token != "" {
		req.Header.Set("Authorization", "Bearer "+r.token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := r.c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{StatusCode: resp.StatusCode, Header: resp.Header}, out
}

// call is do that wants status want and decodes the JSON answer into v.
func (r *rest) call(t *testing.T, method, path, body string, want int, v any) {
	t.Helper()
	resp, out := r.do(t, method, path, body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s %s: status %d, want %d: %s", method, path, body, resp.StatusCode, want, out)
	}
	if v != nil {
		if err := json.Unmarshal(out, v); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, out)
		}
	}
}

// await polls cond until it holds, or fails the test after 20 s.
func await(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 20s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type legacyRecords struct {
	Count   int              `json:"count"`
	Records []map[string]any `json:"records"`
}

type legacySchedules struct {
	Schedules []struct {
		ID      string `json:"id"`
		Trigger any    `json:"trigger"`
		Args    []any  `json:"args"`
	} `json:"schedules"`
	Count int `json:"count"`
}

func (l legacySchedules) has(id string) bool {
	for _, s := range l.Schedules {
		if s.ID == id {
			return true
		}
	}
	return false
}
