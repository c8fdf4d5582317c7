// Package sockfile removes the unix socket files that a killed process
// leaves behind, so that its successor can bind the same path. Both kinds
// of listener the daemons have use it: the HTTP ones (package listener) and
// the ZeroMQ ipc:// endpoints (package wire), which is why it is a package
// of its own, with nothing but the standard library under it.
package sockfile

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"time"
)

// dialTimeout bounds the probe of a socket file; a listener that does not
// answer within it is taken for dead.
const dialTimeout = time.Second

// RemoveStale removes path if it is a socket nobody accepts on: a process
// killed with SIGKILL leaves its file behind, and without this the
// restarted process could not bind until someone deleted it by hand. A
// live socket is left alone (the bind then fails with "address already in
// use", as it should), a missing one is no error, and anything that is not
// a socket is never removed.
func RemoveStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("socket %q: %w", path, err)
	}
	if fi.Mode()&fs.ModeSocket == 0 {
		return fmt.Errorf("socket %q: exists and is not a socket; remove it or choose another path", path)
	}
	c, err := net.DialTimeout("unix", path, dialTimeout)
	if err == nil {
		c.Close()
		return nil // live: let the bind report it
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove stale socket %q: %w", path, err)
	}
	return nil
}
