package wire

import (
	"strings"

	"github.com/go-zeromq/zmq4"

	"github.com/schedulezero/schedulezero/pkg/sockfile"
)

// Bind makes sock listen on endpoint. For ipc:// endpoints it first removes
// a socket file that nobody answers on: a process killed with SIGKILL leaves
// its file behind, and without this the restarted process could not bind
// until someone deleted it by hand. A file somebody still listens on is left
// alone, so the bind fails with "address already in use" as it should.
func Bind(sock zmq4.Socket, endpoint string) error {
	if path, ok := strings.CutPrefix(endpoint, "ipc://"); ok {
		if err := sockfile.RemoveStale(path); err != nil {
			return err
		}
	}
	return sock.Listen(endpoint)
}
