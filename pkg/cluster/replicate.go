package cluster

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/schedulezero/schedulezero/pkg/store"
)

var _ store.Replicator = (*Term)(nil)

// Replicate writes a group commit's write set to etcd, in transactions
// fenced by the term's election key: If(CreateRevision(key) == rev). Each
// transaction holds whole groups (one store.Writes each) up to
// MaxTxnOps/MaxTxnBytes; a group larger than that alone is split, and
// the log says so.
//
// The fence, not the local session, decides: a member whose lease etcd
// let expire (it was frozen past the TTL, or cut off) is refused even if
// it has not noticed yet. A refusal ends the term with ErrDeposed; any
// other failure (etcd unreachable within WriteTimeout) ends it too, since
// the local file now holds writes the cluster may not have: the member
// steps down and rebuilds from etcd before it leads again.
func (t *Term) Replicate(ctx context.Context, groups [][]store.Op) error {
	for _, txn := range t.chunk(groups) {
		if err := t.commit(ctx, txn); err != nil {
			return err
		}
	}
	return nil
}

// chunk packs groups into transactions.
func (t *Term) chunk(groups [][]store.Op) [][]store.Op {
	maxOps, maxBytes := t.c.opts.MaxTxnOps, t.c.opts.MaxTxnBytes
	var out [][]store.Op
	var cur []store.Op
	size := 0
	flush := func() {
		if len(cur) > 0 {
			out = append(out, cur)
		}
		cur, size = nil, 0
	}
	for _, g := range groups {
		gsize := 0
		for _, op := range g {
			gsize += len(op.Key) + len(op.Value) + len(t.c.opts.Prefix) + 32
		}
		if len(cur)+len(g) > maxOps || size+gsize > maxBytes {
			flush()
		}
		if len(g) > maxOps || gsize > maxBytes {
			t.c.log.Warn("a write is larger than one etcd transaction ("+itoa(maxOps)+" records, "+itoa(maxBytes)+" bytes); it is replicated in parts",
				"records", len(g))
			for _, op := range g {
				osize := len(op.Key) + len(op.Value) + len(t.c.opts.Prefix) + 32
				if len(cur)+1 > maxOps || size+osize > maxBytes {
					flush()
				}
				cur, size = append(cur, op), size+osize
			}
			continue
		}
		cur, size = append(cur, g...), size+gsize
	}
	flush()
	return out
}

// commit runs one fenced transaction.
func (t *Term) commit(ctx context.Context, ops []store.Op) error {
	ctx, cancel := context.WithTimeout(ctx, t.c.opts.WriteTimeout)
	defer cancel()
	resp, err := t.c.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(t.key), "=", t.rev)).
		Then(t.etcdOps(ops)...).
		Commit()
	if err != nil {
		err = fmt.Errorf("cluster write of %d records: %w", len(ops), err)
		t.c.log.Error("replicated write failed; stepping down", "key", t.key, "leader_rev", t.rev, "records", len(ops), "err", err)
		t.end(err)
		return err
	}
	if !resp.Succeeded {
		t.c.log.Error("refused write: deposed", "key", t.key, "leader_rev", t.rev, "records", len(ops), "etcd_rev", resp.Header.Revision)
		err := fmt.Errorf("cluster write of %d records refused (leader key %s rev %d gone): %w", len(ops), t.key, t.rev, ErrDeposed)
		t.end(err)
		return err
	}
	return nil
}

// etcdOps turns ops into etcd operations. etcd refuses a transaction that
// names one key twice, and a group commit may write one record twice
// (running, then final): only the last operation on each key is kept,
// which is what applying them in order would leave.
func (t *Term) etcdOps(ops []store.Op) []clientv3.Op {
	last := make(map[string]int, len(ops))
	keys := make([]string, len(ops))
	for i, op := range ops {
		keys[i] = t.c.dataKey(op.Bucket, op.Key)
		last[keys[i]] = i
	}
	out := make([]clientv3.Op, 0, len(last))
	for i, op := range ops {
		if last[keys[i]] != i {
			continue
		}
		switch {
		case op.Delete && op.Key == nil:
			out = append(out, clientv3.OpDelete(keys[i], clientv3.WithPrefix()))
		case op.Delete:
			out = append(out, clientv3.OpDelete(keys[i]))
		default:
			out = append(out, clientv3.OpPut(keys[i], string(op.Value)))
		}
	}
	return out
}

func itoa(n int) string { return strconv.Itoa(n) }

// IsDeposed reports whether err says this member no longer leads.
func IsDeposed(err error) bool { return errors.Is(err, ErrDeposed) }
