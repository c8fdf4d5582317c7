package sd

import "errors"

// ErrUnmatchedActivation is returned by Listen when systemd passed a socket
// that no listen address asks for: a .socket unit and the daemon's flags
// disagree, and serving on a socket nobody configured would hide that.
var ErrUnmatchedActivation = errors.New("socket-activated file descriptor matches no listen address")

// ErrBadListenSpec is returned by Listen for an address it cannot parse.
var ErrBadListenSpec = errors.New("bad listen address")
