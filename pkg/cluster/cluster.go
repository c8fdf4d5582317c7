package cluster

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

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

// Options configure New.
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

// Cluster is a connection to etcd for one scheduler.
type Cluster struct {
	opts Options
	log  *slog.Logger
	cli  *clientv3.Client
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

// New connects to etcd. It does not campaign: see Campaign.
func New(ctx context.Context, opts Options) (*Cluster, error) {
	if len(opts.Endpoints) == 0 {
		return nil, field.Errorf("cluster", "names no etcd member").WithFix("use etcd://HOST:PORT[,HOST:PORT...]")
	}
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	opts.Prefix = strings.TrimSuffix(opts.Prefix, "/")
	if opts.TTL <= 0 {
		opts.TTL = DefaultTTL
	}
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = DefaultDialTimeout
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = DefaultWriteTimeout
	}
	if opts.MaxTxnOps <= 0 {
		opts.MaxTxnOps = DefaultMaxTxnOps
	}
	if opts.MaxTxnBytes <= 0 {
		opts.MaxTxnBytes = DefaultMaxTxnBytes
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   opts.Endpoints,
		TLS:         opts.TLS,
		Username:    opts.Username,
		Password:    opts.Password,
		DialTimeout: opts.DialTimeout,
		Context:     ctx,
		// The client's own zap logs would bypass slog and journald.
		Logger: zap.NewNop(),
		// Without keepalives a dead member is noticed only when a call
		// times out.
		DialKeepAliveTime:    2 * time.Second,
		DialKeepAliveTimeout: 2 * time.Second,
	})
	if err != nil {
		return nil, fmt.Errorf("cluster %v: %w", opts.Endpoints, err)
	}
	c := &Cluster{opts: opts, log: opts.Logger.With("component", "cluster"), cli: cli}
	// Fail at start-up, with the address, rather than in the first
	// campaign.
	sctx, cancel := context.WithTimeout(ctx, opts.DialTimeout)
	defer cancel()
	if _, err := cli.Get(sctx, opts.Prefix+"/leader/", clientv3.WithPrefix(), clientv3.WithCountOnly()); err != nil {
		_ = cli.Close()
		return nil, fmt.Errorf("cluster %v: %w", opts.Endpoints, err)
	}
	return c, nil
}

// Client is the etcd client (tests, tools).
func (c *Cluster) Client() *clientv3.Client { return c.cli }

// Close disconnects. A term still held ends with its lease's TTL.
func (c *Cluster) Close() error { return c.cli.Close() }

func (c *Cluster) electionPrefix() string { return c.opts.Prefix + "/leader/" }

func (c *Cluster) dataKey(bucket string, key []byte) string {
	return c.opts.Prefix + "/" + bucket + "/" + string(key)
}

// Leader returns the member that leads now, or ErrNoLeader.
func (c *Cluster) Leader(ctx context.Context) (Member, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.WriteTimeout)
	defer cancel()
	resp, err := c.cli.Get(ctx, c.electionPrefix(), clientv3.WithFirstCreate()...)
	if err != nil {
		return Member{}, fmt.Errorf("cluster leader: %w", err)
	}
	if len(resp.Kvs) == 0 {
		return Member{}, ErrNoLeader
	}
	return decodeMember(resp.Kvs[0].Value), nil
}

func decodeMember(v []byte) Member {
	var m Member
	if json.Unmarshal(v, &m) != nil {
		m.Name = string(v)
	}
	return m
}
