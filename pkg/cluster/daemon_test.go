package cluster_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/schedulezero/schedulezero/pkg/api"
	"github.com/schedulezero/schedulezero/pkg/cluster"
	"github.com/schedulezero/schedulezero/pkg/cluster/clustertest"
	"github.com/schedulezero/schedulezero/pkg/schedulerd"
)

// logSink keeps the messages of a slog.Logger.
type logSink struct {
	mu   sync.Mutex
	msgs []string
}

func (s *logSink) Enabled(context.Context, slog.Level) bool { return true }
func (s *logSink) Handle(_ context.Context, r slog.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs = append(s.msgs, r.Message)
	return nil
}
func (s *logSink) WithAttrs([]slog.Attr) slog.Handler { return s }
func (s *logSink) WithGroup(string) slog.Handler      { return s }

func (s *logSink) has(prefix string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.msgs {
		if strings.HasPrefix(m, prefix) {
			return true
		}
	}
	return false
}

// node is one scheduler of the cluster, run in process by schedulerd.Run.
type node struct {
	name string
	sock string // the API's unix socket
	tcp  string // and its TCP address, where standbys forward to
	log  *logSink
	stop context.CancelFunc
	done chan error
	http *http.Client
}

func startNode(t *testing.T, e *clustertest.Etcd, name string) *node {
	t.Helper()
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tcp := ln.Addr().String()
	_ = ln.Close()
	n := &node{name: name, sock: filepath.Join(dir, "api.sock"), tcp: tcp, log: &logSink{}, done: make(chan error, 1)}
	n.http = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", n.sock)
		}}}
	ctx, cancel := context.WithCancel(context.Background())
	n.stop = cancel
	opts := schedulerd.Options{
		DBPath:      filepath.Join(dir, "sz.db"),
		ZMQBind:     "ipc://" + filepath.Join(dir, "zmq.sock"),
		HTTPListen:  []string{"unix:" + n.sock, tcp},
		Embed:       []string{"dingaling"},
		StopTimeout: time.Second,
		Logger:      slog.New(n.log),
		Cluster:     &cluster.Options{Endpoints: e.Endpoints(), TTL: 1, Member: cluster.Member{Name: name}},
	}
	go func() { n.done <- schedulerd.Run(ctx, opts, nil, nil) }()
	t.Cleanup(func() {
		n.stop()
		n.http.CloseIdleConnections()
		if err := <-n.done; err != nil {
			t.Errorf("%s: %v", name, err)
		}
	})
	return n
}

// do calls the node's API and returns the status (0 when it does not
// answer at all).
func (n *node) do(method, path string, body, out any) int {
	st, _ := n.doH(method, path, body, out)
	return st
}

// doH is do, with the answer's X-Schedulezero-Leader: set by a standby.
func (n *node) doH(method, path string, body, out any) (int, string) {
	var r *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	} else {
		r = bytes.NewReader(nil)
	}
	req, _ := http.NewRequest(method, "http://"+n.name+path, r)
	req.Header.Set("Content-Type", "application/json")
	resp, err := n.http.Do(req)
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	if out != nil {
		_ = json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode, resp.Header.Get("X-Schedulezero-Leader")
}

// leads reports whether n serves the API itself, as the leader does.
func (n *node) leads() bool {
	st, via := n.doH("GET", "/api/v1/schedules", nil, nil)
	return st == http.StatusOK && via == ""
}

func await(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", limit, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// leaderOf returns the node whose API serves (the others forward to it).
func leaderOf(nodes ...*node) *node {
	var out *node
	for _, n := range nodes {
		if n.leads() {
			if out != nil {
				return nil // two leaders: not settled (or a bug the test reports)
			}
			out = n
		}
	}
	return out
}

func fireCount(t *testing.T, n *node, id string) int64 {
	t.Helper()
	var s api.Schedule
	if st := n.do("GET", "/api/v1/schedules/"+id, nil, &s); st != http.StatusOK {
		t.Fatalf("%s: GET schedule %s = %d", n.name, id, st)
	}
	return s.FireCount
}

// Two schedulers on a 3-member etcd: one leads and fires, the standby
// forwards API requests to it; the leader's lease revoked (what a SIGSTOP past
// the TTL does), it stops its engine and stands by, and the other takes
// over with the schedule and its firing state.
func TestDaemon_Cluster_StandbyTakesOverFromADeposedLeader(t *testing.T) {
	e := clustertest.New(t, 3)
	a, b := startNode(t, e, "a"), startNode(t, e, "b")
	var leader, standby *node
	await(t, 20*time.Second, "one leader", func() bool { leader = leaderOf(a, b); return leader != nil })
	standby = map[*node]*node{a: b, b: a}[leader]

	// A write sent to the standby is forwarded to the leader.
	st, via := standby.doH("POST", "/api/v1/schedules", map[string]any{
		"id": "every-second", "handler_id": "dingaling", "job_method": "quick_aling", "max_attempts": 1,
		"trigger": map[string]any{"type": "interval", "seconds": 1},
	}, nil)
	if st != http.StatusCreated || via != "http://"+leader.tcp {
		t.Fatalf("create schedule through the standby: %d via %q, want 201 via http://%s", st, via, leader.tcp)
	}
	await(t, 10*time.Second, "two fires on the leader", func() bool { return fireCount(t, leader, "every-second") >= 2 })

	cli, err := clientv3.New(clientv3.Config{Endpoints: e.Endpoints(), DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	resp, err := cli.Get(context.Background(), cluster.DefaultPrefix+"/leader/", clientv3.WithFirstCreate()...)
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("leader key: %v %v", resp, err)
	}
	deposedAt := time.Now()
	if _, err := cli.Revoke(context.Background(), clientv3.LeaseID(resp.Kvs[0].Lease)); err != nil {
		t.Fatal(err)
	}
	await(t, 10*time.Second, "the old leader stops its engine", func() bool { return leader.log.has("deposed: stopping the engine") })
	await(t, 20*time.Second, "the standby takes over", standby.leads)
	t.Logf("takeover after the lease was revoked: %v", time.Since(deposedAt))
	before := fireCount(t, standby, "every-second")
	if before < 2 {
		t.Errorf("new leader's fire count %d, want at least the 2 seen on the old one", before)
	}
	await(t, 10*time.Second, "the new leader fires", func() bool { return fireCount(t, standby, "every-second") > before })
	// The old leader is a standby now: it forwards to the new one.
	await(t, 10*time.Second, "the old leader stands by", func() bool {
		_, via := leader.doH("GET", "/api/v1/schedules", nil, nil)
		return via == "http://"+standby.tcp
	})
	// With no leader to forward to, a standby answers 503 naming none.
	standby.stop()
	var body api.ErrorBody
	await(t, 20*time.Second, "a standby with no leader answers 503", func() bool {
		return leader.do("POST", "/api/v1/schedules", map[string]any{}, &body) == http.StatusServiceUnavailable
	})
	if !strings.Contains(body.Error.Message, "standby") {
		t.Errorf("503 body %+v, want it to say standby", body)
	}
}
