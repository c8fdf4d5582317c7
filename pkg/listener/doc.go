// Package listener opens the listeners of the ScheduleZero daemons that serve
// HTTP (the scheduler's API, the governor's control socket), preferring file
// descriptors passed by systemd socket activation over binding their own.
//
// It is apart from package sd, which every daemon uses, because socket
// activation (go-systemd's activation package) links crypto/tls: a handler,
// which listens only with ZeroMQ, would carry it for nothing (about 1 MB of
// its resident memory, docs/performance.md).
package listener

import "errors"

// ErrUnmatchedActivation is returned by Listen when systemd passed a socket
// that no listen address asks for: a .socket unit and the daemon's flags
// disagree, and serving on a socket nobody configured would hide that.
var ErrUnmatchedActivation = errors.New("socket-activated file descriptor matches no listen address")

// ErrBadListenSpec is returned by Listen for an address it cannot parse.
var ErrBadListenSpec = errors.New("bad listen address")
