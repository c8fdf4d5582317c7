// Package clustertest runs a real etcd cluster inside a test binary: the
// etcd server's own embed package, several members on loopback ports, so
// that cluster tests exercise the real election, leases and fenced
// transactions without an etcd installation.
package clustertest

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/goleak"
	"go.uber.org/zap"
)

// MaxTxnOps is the members' --max-txn-ops: larger than etcd's default 128
// so that a full group commit fits one transaction (the cluster package
// chunks to whatever it is told).
const MaxTxnOps = 4096

// Etcd is a running embedded cluster.
type Etcd struct {
	mu      sync.Mutex
	members []*embed.Etcd
	clients []string
}

// New starts an n-member cluster, stopped at the test's cleanup. Members
// skip fsync and use short raft timers: a test cluster is up in about a
// second and elects a new raft leader within one.
func New(t testing.TB, n int) *Etcd { t.Helper(); return startT(t, n, false) }

// NewDurable is New with fsync on, as a production member runs: for
// benchmarks that compare with bbolt, which syncs every commit.
func NewDurable(t testing.TB, n int) *Etcd { t.Helper(); return startT(t, n, true) }

func startT(t testing.TB, n int, fsync bool) *Etcd {
	t.Helper()
	e, err := Start(t.TempDir(), n, fsync)
	if err != nil {
		t.Fatalf("embedded etcd: %v", err)
	}
	t.Cleanup(e.Close)
	return e
}

// Start starts an n-member cluster with its data under dir, outside a
// test (the bench's cluster phase); Close stops it.
func Start(dir string, n int, fsync bool) (*Etcd, error) {
	// The ports were free a moment before the members bind them: on a
	// busy machine another process may take one meanwhile. Then the
	// cluster starts again on new ports, in a new directory.
	for try := 1; ; try++ {
		e, err := start(filepath.Join(dir, fmt.Sprintf("try%d", try)), n, fsync)
		if err == nil || try == 5 || !errors.Is(err, syscall.EADDRINUSE) && !strings.Contains(err.Error(), "address already in use") {
			return e, err
		}
	}
}

func start(dir string, n int, fsync bool) (*Etcd, error) {
	peers, err := freeURLs(n)
	if err != nil {
		return nil, err
	}
	clients, err := freeURLs(n)
	if err != nil {
		return nil, err
	}
	var initial []string
	for i := range n {
		initial = append(initial, fmt.Sprintf("m%d=%s", i, peers[i].String()))
	}
	e := &Etcd{members: make([]*embed.Etcd, n)}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		cfg := embed.NewConfig()
		cfg.Name = fmt.Sprintf("m%d", i)
		cfg.Dir = filepath.Join(dir, cfg.Name)
		cfg.ListenPeerUrls = []url.URL{peers[i]}
		cfg.AdvertisePeerUrls = []url.URL{peers[i]}
		cfg.ListenClientUrls = []url.URL{clients[i]}
		cfg.AdvertiseClientUrls = []url.URL{clients[i]}
		cfg.InitialCluster = strings.Join(initial, ",")
		cfg.InitialClusterToken = "schedulezero-test"
		cfg.ClusterState = embed.ClusterStateFlagNew
		cfg.TickMs, cfg.ElectionMs = 50, 500
		cfg.UnsafeNoFsync = !fsync
		cfg.MaxTxnOps = MaxTxnOps
		cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
		e.clients = append(e.clients, clients[i].String())
		wg.Add(1)
		go func() {
			defer wg.Done()
			m, err := embed.StartEtcd(cfg)
			if err != nil {
				errs[i] = err
				return
			}
			e.mu.Lock()
			e.members[i] = m
			e.mu.Unlock()
			select {
			case <-m.Server.ReadyNotify():
			case err := <-m.Err():
				errs[i] = err
			case <-time.After(30 * time.Second):
				errs[i] = fmt.Errorf("member %s not ready after 30s", cfg.Name)
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		e.Close()
		return nil, err
	}
	return e, nil
}

// Endpoints are the members' client URLs.
func (e *Etcd) Endpoints() []string { return e.clients }

// URL is the --cluster value naming every member.
func (e *Etcd) URL() string {
	hosts := make([]string, len(e.clients))
	for i, c := range e.clients {
		hosts[i] = strings.TrimPrefix(c, "http://")
	}
	return "etcd://" + strings.Join(hosts, ",")
}

// Stop stops member i (a crash, as its peers see it).
func (e *Etcd) Stop(i int) {
	e.mu.Lock()
	m := e.members[i]
	e.members[i] = nil
	e.mu.Unlock()
	if m != nil {
		m.Close()
	}
}

// Close stops every member.
func (e *Etcd) Close() {
	for i := range e.members {
		e.Stop(i)
	}
}

// freeURLs returns n loopback URLs on ports free a moment ago.
func freeURLs(n int) ([]url.URL, error) {
	out := make([]url.URL, n)
	for i := range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		out[i] = url.URL{Scheme: "http", Host: ln.Addr().String()}
		_ = ln.Close()
	}
	return out, nil
}

// IgnoreGoroutines are the goleak options for what an embedded etcd leaves
// behind after Close: process-wide workers of its server and grpc, and
// connections of its HTTP listener and peer transport that Close does
// not wait for.
func IgnoreGoroutines() []goleak.Option {
	return []goleak.Option{
		goleak.IgnoreTopFunction("go.opencensus.io/stats/view.(*worker).start"),
		goleak.IgnoreAnyFunction("google.golang.org/grpc/internal/grpcsync.(*CallbackSerializer).run"),
		goleak.IgnoreAnyFunction("go.etcd.io/etcd/pkg/v3/schedule.(*fifo).run"),
		goleak.IgnoreAnyFunction("github.com/soheilhy/cmux.(*MuxConn).Read"),
		goleak.IgnoreAnyFunction("net/http.(*conn).serve"),
		goleak.IgnoreAnyFunction("net/http.(*connReader).backgroundRead"),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).writeLoop"),
	}
}
