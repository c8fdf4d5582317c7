package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/schedulezero/schedulezero/pkg/cluster/clustertest"
)

// The cluster phase: the throughput phase's load on one scheduler alone
// (bbolt) and on one in cluster mode (--cluster: every group commit also
// written to etcd, fenced by its election key) on a 3-member etcd with
// fsync on, run in this process, all on this machine: the cost of
// replication, in one sitting. The scheduler runs as a cluster member
// through the packaged layout: bin/schedulezero-scheduler hands --cluster
// to bin/schedulezero-scheduler-cluster.
func clusterRows(bin string, window time.Duration, load shape) ([]row, error) {
	if !hasFlag(filepath.Join(bin, "schedulezero-scheduler"), "--cluster") {
		return []row{{"cluster: durable executions/s", "n/a (a scheduler from before cluster mode)", ""}}, nil
	}
	alone, aloneCPU, aloneMem, err := measureThroughput(bin, window, load, topology{})
	if err != nil {
		return nil, fmt.Errorf("alone: %w", err)
	}
	dir, err := os.MkdirTemp("", "szetcd")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	etcd, err := clustertest.Start(dir, 3, true)
	if err != nil {
		return nil, fmt.Errorf("etcd: %w", err)
	}
	defer etcd.Close()
	member, memberCPU, memberMem, err := measureThroughput(bin, window, load, topology{cluster: etcd.URL()})
	if err != nil {
		return nil, fmt.Errorf("cluster member: %w", err)
	}
	offered := float64(load.schedules) / load.every
	ratio := "n/a"
	if alone > 0 {
		ratio = fmt.Sprintf("%.2f", member/alone)
	}
	us := func(d time.Duration) string { return fmt.Sprintf("%.1f µs", float64(d)/float64(time.Microsecond)) }
	return []row{
		{fmt.Sprintf("cluster: durable executions/s, one scheduler on bbolt alone; %.0f fires/s offered", offered), fmt.Sprintf("%.0f", alone), ""},
		{"  CPU per execution, scheduler and handler", us(aloneCPU), ""},
		{"  scheduler peak RSS", aloneMem.scheduler.String(), ""},
		{"cluster: the same, the leader of a cluster on 3 etcd members (fsync on, this machine)", fmt.Sprintf("%.0f", member), ""},
		{"  CPU per execution, scheduler and handler (etcd's not counted)", us(memberCPU), ""},
		{"  scheduler peak RSS", memberMem.scheduler.String(), ""},
		{"cluster: leader / alone", ratio, ""},
	}, nil
}

// clusterArgs are a cluster member's flags for etcd at url.
func clusterArgs(url string) []string {
	return []string{"--cluster", url, "--cluster-name", "bench", "--cluster-ttl", "5",
		"--cluster-max-txn-ops", strconv.Itoa(clustertest.MaxTxnOps)}
}
