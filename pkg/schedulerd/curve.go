package schedulerd

import (
	"fmt"

	"github.com/schedulezero/schedulezero/pkg/wire"
)

// checkZMQExposure refuses a registration endpoint other hosts can reach
// in plaintext unless opts.Insecure, and then says so in the log: the
// channel carries handler secrets and job params.
func checkZMQExposure(opts Options) error {
	exposed, err := wire.CheckExposure(opts.ZMQBind, opts.Curve != nil, opts.Insecure)
	if err != nil {
		return fmt.Errorf("--zmq-bind %w", err)
	}
	if exposed {
		opts.Logger.Warn("the registration socket listens beyond this host without CURVE: handler secrets and job params cross the network in plaintext",
			"address", opts.ZMQBind, "fix", "--curve-secret-key-file and --curve-allow (docs/security.md)")
	}
	if opts.Curve != nil {
		opts.Logger.Info("CURVE on the registration socket and the handler connections", "address", opts.ZMQBind, "allowed_keys", len(opts.Curve.Allowed))
	}
	return nil
}
