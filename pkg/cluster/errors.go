package cluster

import "errors"

var (
	// ErrDeposed reports a write refused because this member no longer
	// leads: its election key is gone (lease expired or revoked) or
	// another member leads.
	ErrDeposed = errors.New("deposed")
	// ErrNoLeader reports that nobody leads at the moment.
	ErrNoLeader = errors.New("no leader")
)
