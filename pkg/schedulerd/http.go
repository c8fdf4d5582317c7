package schedulerd

import (
	"log/slog"
	"net"
	"time"

	"golang.org/x/net/netutil"
)

// Defaults of HTTPLimits fields left zero.
const (
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultReadTimeout       = 30 * time.Second
	DefaultIdleTimeout       = 2 * time.Minute
	DefaultMaxConns          = 512
)

// HTTPLimits bound what one client can hold of the API, so that a slow or
// idle client cannot keep connections from the others.
type HTTPLimits struct {
	// ReadHeaderTimeout is how long a client has to send a request's
	// headers.
	ReadHeaderTimeout time.Duration
	// ReadTimeout is how long a client has to send a whole request,
	// headers and body. net/http lifts the deadline once the body is read
	// (before the handler's background read), so a run_now that waits
	// for its job is not cut short; there is no WriteTimeout for the same
	// reason.
	ReadTimeout time.Duration
	// IdleTimeout is how long a kept-alive connection may wait for its
	// next request.
	IdleTimeout time.Duration
	// MaxConns caps the connections open at once on each listener; more
	// wait in the kernel's backlog until one closes (the timeouts above
	// bound how long that is). A cap per listener keeps the unix socket
	// usable when a TCP client takes all of its own.
	MaxConns int
}

func (l HTTPLimits) withDefaults() HTTPLimits {
	if l.ReadHeaderTimeout <= 0 {
		l.ReadHeaderTimeout = DefaultReadHeaderTimeout
	}
	if l.ReadTimeout <= 0 {
		l.ReadTimeout = DefaultReadTimeout
	}
	if l.IdleTimeout <= 0 {
		l.IdleTimeout = DefaultIdleTimeout
	}
	if l.MaxConns <= 0 {
		l.MaxConns = DefaultMaxConns
	}
	return l
}

// limitListeners caps each listener at max connections.
func limitListeners(lns []net.Listener, max int) []net.Listener {
	out := make([]net.Listener, len(lns))
	for i, ln := range lns {
		out[i] = netutil.LimitListener(ln, max)
	}
	return out
}

// warnOpenTCP says, for each TCP listener, that it serves the API to whoever
// can connect when no token is configured: the defaults do that, and a
// scheduler started by hand should not do it silently.
func warnOpenTCP(logger *slog.Logger, lns []net.Listener, tokens int) {
	if tokens > 0 {
		return
	}
	for _, ln := range lns {
		if ln.Addr().Network() != "tcp" {
			continue
		}
		logger.Warn("the API listens on TCP without a token: anyone who can connect can add schedules and run jobs",
			"listener", ln.Addr().String(),
			"fix", "give --api-token-file FILE (or the systemd credential api-token), or listen on unix:/PATH only")
	}
}
