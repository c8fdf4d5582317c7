package cluster

import (
	"context"
	"fmt"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/schedulezero/schedulezero/pkg/store"
)

// restorePage is how many records one range read and one bbolt
// transaction of Restore take.
const restorePage = 1000

// Restore rebuilds db, an empty file, from the records in etcd: every
// bucket read at the one revision the term began with, page by page, and
// applied through store.Restore (which derives the indexes and counters).
// Only the leader writes, so nothing changes under the read.
func (t *Term) Restore(ctx context.Context, db *store.DB) (records int, err error) {
	rev := int64(0)
	for _, b := range store.ReplicaBuckets {
		prefix := t.c.opts.Prefix + "/" + b + "/"
		end := clientv3.GetPrefixRangeEnd(prefix)
		from := prefix
		for {
			opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(restorePage),
				clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend)}
			if rev != 0 {
				opts = append(opts, clientv3.WithRev(rev))
			}
			gctx, cancel := context.WithTimeout(ctx, t.c.opts.WriteTimeout)
			resp, err := t.c.cli.Get(gctx, from, opts...)
			cancel()
			if err != nil {
				return records, fmt.Errorf("cluster restore %s: %w", b, err)
			}
			if rev == 0 {
				rev = resp.Header.Revision
			}
			ops := make([]store.Op, len(resp.Kvs))
			for i, kv := range resp.Kvs {
				ops[i] = store.Op{Bucket: b, Key: []byte(strings.TrimPrefix(string(kv.Key), prefix)), Value: kv.Value}
			}
			if err := db.Restore(ctx, ops); err != nil {
				return records, fmt.Errorf("cluster restore: %w", err)
			}
			records += len(ops)
			if !resp.More || len(resp.Kvs) == 0 {
				break
			}
			from = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
		}
	}
	return records, nil
}
