package cluster_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/cluster"
	"github.com/schedulezero/schedulezero/pkg/cluster/clustertest"
	"github.com/schedulezero/schedulezero/pkg/store"
)

// BenchmarkCommit_Execution is the store's commit of one finished attempt
// record by many concurrent writers (as the engine commits results), alone
// on bbolt and replicated to a 3-member etcd in this process (fsync on,
// one disk for all): the cost of
// cluster mode per execution. It reports executions/s.
//
//	go test -run '^$' -bench Commit_Execution -benchtime 5s ./pkg/cluster/
func BenchmarkCommit_Execution(b *testing.B) {
	for _, mode := range []string{"bbolt", "bbolt+etcd3"} {
		b.Run(mode, func(b *testing.B) {
			var rep store.Replicator
			if mode != "bbolt" {
				e := clustertest.NewDurable(b, 3)
				c, err := cluster.New(context.Background(), cluster.Options{Endpoints: e.Endpoints(), MaxTxnOps: clustertest.MaxTxnOps})
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { _ = c.Close() })
				term, err := c.Campaign(context.Background())
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { _ = term.Resign(context.Background()) })
				rep = term
			}
			db, err := store.Open(b.TempDir()+"/sz.db", store.Options{Replicator: rep})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = db.Close() })
			var n atomic.Int64
			b.SetParallelism(64) // many executions finish at once
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := int(n.Add(1))
					e := exec(i, 1, store.StatusSucceeded)
					e.ID = fmt.Sprintf("%026d", i)
					if err := db.Commit(context.Background(), store.Writes{Executions: []store.Execution{e}}); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "executions/s")
		})
	}
}
