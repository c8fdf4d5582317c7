package wire

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"strings"
	"time"

	"github.com/go-zeromq/zmq4"
)

// Bind makes sock listen on endpoint. For ipc:// endpoints it first removes
// a socket file that nobody answers on: a process killed with SIGKILL leaves
// its file behind, and without this the restarted process could not bind
// until someone deleted it by hand. A file somebody still listens on is left
// alone, so the bind fails with "address already in use" as it should.
func Bind(sock zmq4.Socket, endpoint string) error {
	if path, ok := strings.CutPrefix(endpoint, "ipc://"); ok {
		if err := removeStaleSocket(path); err != nil {
			return err
		}
	}
	return sock.Listen(endpoint)
}

func removeStaleSocket(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("socket %q: %w", path, err)
	}
	if fi.Mode()&fs.ModeSocket == 0 {
		return fmt.Errorf("socket %q: exists and is not a socket; remove it or choose another ipc:// path", path)
	}
	c, err := net.DialTimeout("unix", path, time.Second)
	if err == nil {
		c.Close()
		return nil // live: let the bind report it
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove stale socket %q: %w", path, err)
	}
	return nil
}
