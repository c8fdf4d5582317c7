//go:build nocluster

package schedulerd

import (
	"context"
	"errors"
)

// ErrNoCluster is Run's answer to Options.Cluster in a build without
// cluster support (-tags nocluster): such a build hands --cluster to the
// one that has it before Run (cmd/schedulezero-scheduler).
var ErrNoCluster = errors.New("this build has no cluster support (built with -tags nocluster)")

func runCluster(context.Context, Options, <-chan struct{}, <-chan struct{}) error {
	return ErrNoCluster
}
