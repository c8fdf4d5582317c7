package listener

import (
	"net"
	"net/http"
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

// HTTPLimits bound what one client can hold of an HTTP API (the
// scheduler's, the governor's), so that a slow or idle client cannot keep
// connections from the others. Zero fields take the defaults above.
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

// Server returns a server for h with the read and idle deadlines of l.
// It has no WriteTimeout: that one runs while a handler waits for its job
// (run_now) and would cut the answer off.
func (l HTTPLimits) Server(h http.Handler) *http.Server {
	l = l.withDefaults()
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: l.ReadHeaderTimeout,
		ReadTimeout:       l.ReadTimeout,
		IdleTimeout:       l.IdleTimeout,
	}
}

// Limit caps each listener at l.MaxConns connections open at once
// (netutil.LimitListener: Accept waits for a free slot, so the kernel's
// backlog holds the rest rather than the server refusing them).
func (l HTTPLimits) Limit(lns []net.Listener) []net.Listener {
	max := l.withDefaults().MaxConns
	out := make([]net.Listener, len(lns))
	for i, ln := range lns {
		out[i] = netutil.LimitListener(ln, max)
	}
	return out
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
