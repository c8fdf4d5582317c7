// Package clusterconf is the configuration of cluster mode (package
// cluster): what the scheduler's flags say, without the etcd client, so
// that a build without cluster support reads the same flags and hands
// them to the build that has it (docs/operations.md).
package clusterconf

import (
	"crypto/tls"
	"log/slog"
	"strings"
	"time"

	"github.com/schedulezero/schedulezero/pkg/field"
)

// Defaults for Options fields left zero.
const (
	DefaultPrefix       = "/schedulezero"
	DefaultTTL          = 5 // seconds: the longest a frozen leader blocks a takeover
	DefaultDialTimeout  = 5 * time.Second
	DefaultWriteTimeout = 3 * time.Second
	// DefaultMaxTxnOps is etcd's default --max-txn-ops: a group commit
	// larger than that is written in several transactions, each holding
	// whole Writes (a fire's state with its attempt), so that the
	// replica never has one without the other.
	DefaultMaxTxnOps = 128
	// DefaultMaxTxnBytes stays under etcd's default --max-request-bytes
	// (1.5 MiB) with room for keys and framing.
	DefaultMaxTxnBytes = 1 << 20
)

// Options configure cluster.New.
type Options struct {
	Endpoints []string // host:port or http(s)://host:port
	TLS       *tls.Config
	Username  string
	Password  string
	Prefix    string
	// TTL is the session lease in seconds: a leader that cannot renew it
	// for that long is deposed. Default DefaultTTL.
	TTL          int
	DialTimeout  time.Duration
	WriteTimeout time.Duration // each fenced transaction
	MaxTxnOps    int
	MaxTxnBytes  int
	// Member describes this scheduler to the others (the election value).
	Member Member
	Logger *slog.Logger
}

// Member is what a leader publishes about itself: standbys report it
// (STATUS=standby, leader is NAME) and send API clients and handlers to it.
type Member struct {
	Name string   `json:"name"`
	API  []string `json:"api,omitempty"` // http://host:port of the REST API
	ZMQ  string   `json:"zmq,omitempty"` // the registration endpoint
}

// ParseURL reads the --cluster value etcd://h1:2379,h2:2379 (etcds:// for
// TLS) into client endpoints.
func ParseURL(s string) ([]string, error) {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok || (scheme != "etcd" && scheme != "etcds") || rest == "" {
		return nil, field.Errorf("cluster", "is %q", s).WithFix("use etcd://HOST:PORT[,HOST:PORT...] (etcds:// for TLS)")
	}
	web := map[string]string{"etcd": "http://", "etcds": "https://"}[scheme]
	var eps []string
	for h := range strings.SplitSeq(rest, ",") {
		h = strings.TrimSuffix(strings.TrimSpace(h), "/")
		if h == "" || strings.ContainsAny(h, "/?#@") {
			return nil, field.Errorf("cluster", "has the member %q in %q", h, s).WithFix("list members as HOST:PORT, comma-separated")
		}
		eps = append(eps, web+h)
	}
	return eps, nil
}
