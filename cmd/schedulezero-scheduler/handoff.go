//go:build nocluster

package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/urfave/cli/v2"
)

// The packaged schedulezero-scheduler is built without cluster support
// (-tags nocluster): the etcd client it would link costs every scheduler
// about 6 MB resident, cluster member or not. Given --cluster, it hands
// itself over, with the same arguments, environment, PID and file
// descriptors (systemd's notify socket and watchdog stay valid), to the
// build that has it (the Makefile's bins; the package installs it in
// clusterDir).
const (
	clusterBinary = "schedulezero-scheduler-cluster"
	clusterDir    = "/usr/libexec/schedulezero"
	// handedOffEnv marks the hand-over, so that a cluster binary built
	// without cluster support fails instead of executing itself again.
	handedOffEnv = "SZ_CLUSTER_HANDED_OFF"
)

// handOffCluster hands --cluster to the build that has cluster support.
func handOffCluster(c *cli.Context) error {
	if c.String("cluster") == "" {
		return nil
	}
	return execCluster()
}

// findClusterBinary is where the build with cluster support is: beside
// self, else in clusterDir.
func findClusterBinary(self string) (string, error) {
	tried := []string{filepath.Join(filepath.Dir(self), clusterBinary), filepath.Join(clusterDir, clusterBinary)}
	for _, p := range tried {
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("--cluster: this schedulezero-scheduler is built without cluster support and %s is not at %s or %s: install the package, or run `make bins`, which builds both",
		clusterBinary, tried[0], tried[1])
}

// execCluster replaces this process with the build that has cluster
// support; it returns only on failure.
func execCluster() error {
	if os.Getenv(handedOffEnv) != "" {
		return errors.New("--cluster: " + clusterBinary + " was built without cluster support (-tags nocluster); build it without that tag")
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("--cluster: %w", err)
	}
	path, err := findClusterBinary(self)
	if err != nil {
		return err
	}
	env := append(os.Environ(), handedOffEnv+"=1")
	if err := syscall.Exec(path, append([]string{path}, os.Args[1:]...), env); err != nil {
		return fmt.Errorf("--cluster: run %s: %w", path, err)
	}
	return nil
}
