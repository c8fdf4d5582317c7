package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/schedulezero/schedulezero/pkg/cluster/clusterconf"
	"github.com/schedulezero/schedulezero/pkg/field"
)

// The configuration lives in clusterconf, a package without the etcd
// client: a build of the scheduler without cluster support (-tags
// nocluster, docs/operations.md) reads the same flags into it.
type (
	// Options configure New.
	Options = clusterconf.Options
	// Member describes a scheduler to the others (the election value).
	Member = clusterconf.Member
)

// Defaults for Options fields left zero (clusterconf).
const (
	DefaultPrefix       = clusterconf.DefaultPrefix
	DefaultTTL          = clusterconf.DefaultTTL
	DefaultDialTimeout  = clusterconf.DefaultDialTimeout
	DefaultWriteTimeout = clusterconf.DefaultWriteTimeout
	DefaultMaxTxnOps    = clusterconf.DefaultMaxTxnOps
	DefaultMaxTxnBytes  = clusterconf.DefaultMaxTxnBytes
)

// Cluster is a connection to etcd for one scheduler.
type Cluster struct {
	opts Options
	log  *slog.Logger
	cli  *clientv3.Client
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
