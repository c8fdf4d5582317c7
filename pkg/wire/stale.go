package wire

import (
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/go-zeromq/zmq4"

	"github.com/schedulezero/schedulezero/pkg/sockfile"
)

// Bind makes sock listen on endpoint. For ipc:// endpoints it first removes
// a socket file that nobody answers on: a process killed with SIGKILL leaves
// its file behind, and without this the restarted process could not bind
// until someone deleted it by hand. A file somebody still listens on is left
// alone, so the bind fails with "address already in use" as it should.
//
// An ipc:// socket file is then made owner-only (IPCMode): connecting to a
// unix socket needs write permission on it, so only the daemon's own user
// (and root) can reach the registration server or a handler's job socket
// through it. The file exists with the umask's mode for the moment between
// the bind and the chmod; the units' UMask=0007 and a private runtime
// directory (0750) keep other users out of that moment too.
func Bind(sock zmq4.Socket, endpoint string) error {
	path, ipc := strings.CutPrefix(endpoint, "ipc://")
	if ipc {
		if err := sockfile.RemoveStale(path); err != nil {
			return err
		}
	}
	if err := sock.Listen(endpoint); err != nil {
		return err
	}
	if ipc {
		if err := os.Chmod(path, IPCMode); err != nil {
			return fmt.Errorf("socket %q: make it owner-only: %w", path, err)
		}
	}
	return nil
}

// IPCMode is the mode of the ipc:// socket files we bind.
const IPCMode fs.FileMode = 0o600
