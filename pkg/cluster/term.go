package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
)

// Term is one member's leadership, from the won election to the first
// sign that it is over: its session's lease lost (not renewed within the
// TTL, or revoked) or a write refused by the fence. Its Replicate is the
// store's Replicator for the term.
type Term struct {
	c        *Cluster
	session  *concurrency.Session
	election *concurrency.Election
	key      string // the election key, PREFIX/leader/<lease>
	rev      int64  // its CreateRevision: the fence

	once   sync.Once
	done   chan struct{}
	mu     sync.Mutex
	err    error
	closed chan struct{} // the watcher returned
	stop   context.CancelFunc
}

// Campaign blocks until this member leads (or ctx ends) and returns its
// term. The member stays a candidate while it waits: its lease is kept
// alive, and it leads as soon as every older candidate's key is gone.
func (c *Cluster) Campaign(ctx context.Context) (*Term, error) {
	// The session outlives ctx: it ends with the term (Resign, or a lost
	// lease), not with the wait for it.
	sctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	s, err := concurrency.NewSession(c.cli, concurrency.WithTTL(c.opts.TTL), concurrency.WithContext(sctx))
	if err != nil {
		stop()
		return nil, fmt.Errorf("cluster session: %w", err)
	}
	e := concurrency.NewElection(s, c.electionPrefix())
	val, err := json.Marshal(c.opts.Member)
	if err != nil {
		stop()
		return nil, fmt.Errorf("cluster member: %w", err)
	}
	fail := func(err error) (*Term, error) {
		_ = s.Close() // revokes the lease: our candidacy goes now, not after the TTL
		stop()
		return nil, err
	}
	if err := e.Campaign(ctx, string(val)); err != nil {
		return fail(fmt.Errorf("cluster campaign: %w", err))
	}
	t := &Term{c: c, session: s, election: e, key: e.Key(), rev: e.Rev(),
		done: make(chan struct{}), closed: make(chan struct{}), stop: stop}
	// Campaign also returns when our own key went with an expired lease
	// while we waited: lead only if the key is still ours.
	gctx, cancel := context.WithTimeout(ctx, c.opts.WriteTimeout)
	resp, err := c.cli.Get(gctx, t.key)
	cancel()
	if err != nil {
		return fail(fmt.Errorf("cluster campaign: %w", err))
	}
	if len(resp.Kvs) == 0 || resp.Kvs[0].CreateRevision != t.rev {
		return fail(fmt.Errorf("cluster campaign: lease lost while waiting: %w", ErrDeposed))
	}
	go t.watch()
	c.log.Info("leading", "key", t.key, "leader_rev", t.rev, "member", c.opts.Member.Name)
	return t, nil
}

// watch ends the term when the session's lease is lost.
func (t *Term) watch() {
	defer close(t.closed)
	select {
	case <-t.session.Done():
		t.end(fmt.Errorf("lease %x lost: %w", t.session.Lease(), ErrDeposed))
	case <-t.done:
	}
}

// end records why the term is over (the first reason wins) and closes Done.
func (t *Term) end(err error) {
	t.once.Do(func() {
		t.mu.Lock()
		t.err = err
		t.mu.Unlock()
		close(t.done)
	})
}

// Done is closed when the term is over: the engine must stop writing.
func (t *Term) Done() <-chan struct{} { return t.done }

// Err says why the term ended; nil while it lasts.
func (t *Term) Err() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.err
}

// Key and Rev are the election key and its creation revision, the fence
// of every write of the term.
func (t *Term) Key() string { return t.key }

// Rev is the fence's revision (see Key).
func (t *Term) Rev() int64 { return t.rev }

// Lease is the session's lease: revoking it deposes this member.
func (t *Term) Lease() clientv3.LeaseID { return t.session.Lease() }

// Resign ends the term and gives up the lease at once, so that a standby
// takes over without waiting for the TTL. Call it after the engine
// stopped. It is idempotent.
func (t *Term) Resign(ctx context.Context) error {
	t.end(errors.New("resigned"))
	ctx, cancel := context.WithTimeout(ctx, t.c.opts.WriteTimeout)
	defer cancel()
	err := t.election.Resign(ctx)
	// Close revokes the lease with the session's own deadline (its TTL).
	if cerr := t.session.Close(); err == nil && cerr != nil && !errors.Is(cerr, context.Canceled) {
		err = cerr
	}
	t.stop()
	<-t.closed
	if err != nil {
		return fmt.Errorf("cluster resign: %w", err)
	}
	return nil
}
