package schedulerd

import (
	"log/slog"
	"net"
)

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
			"address", ln.Addr().String(),
			"fix", "give --api-token-file FILE (or the systemd credential api-token), or listen on unix:/PATH only")
	}
}
