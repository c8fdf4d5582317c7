package listener

import (
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/coreos/go-systemd/v22/activation"

	"github.com/schedulezero/schedulezero/pkg/sockfile"
)

// Listen returns one listener per spec, in order. A spec is "unix:/path",
// "host:port" or "fd:NAME".
//
// Socket-activated file descriptors (LISTEN_FDS from a .socket unit) take
// precedence: "fd:NAME" takes the descriptor with FileDescriptorName=NAME,
// and a "unix:" or "host:port" spec takes a passed socket bound to the same
// address, so `--http-listen unix:/run/schedulezero/api.sock` works both
// with and without schedulezero-scheduler.socket. Specs that no passed
// socket satisfies are bound here; a "unix:" path first loses a stale socket
// file and the new socket gets mode 0660. A passed socket that no spec asks
// for is an error (ErrUnmatchedActivation). The LISTEN_* variables are
// unset so children do not inherit them.
func Listen(specs []string) ([]net.Listener, error) {
	activated, err := activatedListeners()
	if err != nil {
		return nil, err
	}
	used := make([]bool, len(activated))
	out := make([]net.Listener, 0, len(specs))
	fail := func(err error) ([]net.Listener, error) {
		for _, l := range out {
			l.Close()
		}
		for i, a := range activated {
			if !used[i] {
				a.l.Close()
			}
		}
		return nil, err
	}
	for _, spec := range specs {
		i := matchActivated(spec, activated, used)
		if i >= 0 {
			used[i] = true
			out = append(out, activated[i].l)
			continue
		}
		if strings.HasPrefix(spec, "fd:") {
			return fail(fmt.Errorf("listen %q: no socket-activated descriptor named %q: %w", spec, strings.TrimPrefix(spec, "fd:"), ErrBadListenSpec))
		}
		l, err := listen(spec)
		if err != nil {
			return fail(err)
		}
		out = append(out, l)
	}
	for i, a := range activated {
		if !used[i] {
			return fail(fmt.Errorf("socket %q (%s): %w", a.name, a.l.Addr(), ErrUnmatchedActivation))
		}
	}
	return out, nil
}

type namedListener struct {
	name string
	l    net.Listener
}

func activatedListeners() ([]namedListener, error) {
	files := activation.Files(true)
	out := make([]namedListener, 0, len(files))
	for _, f := range files {
		l, err := net.FileListener(f)
		f.Close()
		if err != nil {
			for _, o := range out {
				o.l.Close()
			}
			return nil, fmt.Errorf("socket-activated descriptor %q: %w", f.Name(), err)
		}
		out = append(out, namedListener{name: f.Name(), l: l})
	}
	return out, nil
}

func matchActivated(spec string, activated []namedListener, used []bool) int {
	for i, a := range activated {
		if used[i] {
			continue
		}
		switch {
		case strings.HasPrefix(spec, "fd:"):
			if a.name == strings.TrimPrefix(spec, "fd:") {
				return i
			}
		case strings.HasPrefix(spec, "unix:"):
			if a.l.Addr().Network() == "unix" && a.l.Addr().String() == strings.TrimPrefix(spec, "unix:") {
				return i
			}
		default:
			if sameTCP(spec, a.l.Addr()) {
				return i
			}
		}
	}
	return -1
}

func sameTCP(spec string, addr net.Addr) bool {
	ta, ok := addr.(*net.TCPAddr)
	if !ok {
		return false
	}
	want, err := net.ResolveTCPAddr("tcp", spec)
	if err != nil {
		return false
	}
	if want.Port != ta.Port {
		return false
	}
	return want.IP == nil || want.IP.IsUnspecified() || want.IP.Equal(ta.IP)
}

func listen(spec string) (net.Listener, error) {
	if path, ok := strings.CutPrefix(spec, "unix:"); ok {
		if path == "" {
			return nil, fmt.Errorf("listen %q: empty socket path: %w", spec, ErrBadListenSpec)
		}
		if err := sockfile.RemoveStale(path); err != nil {
			return nil, err
		}
		l, err := net.Listen("unix", path)
		if err != nil {
			return nil, fmt.Errorf("listen %q: %w", spec, err)
		}
		if err := os.Chmod(path, 0o660); err != nil {
			l.Close()
			return nil, fmt.Errorf("listen %q: %w", spec, err)
		}
		return l, nil
	}
	if _, _, err := net.SplitHostPort(spec); err != nil {
		return nil, fmt.Errorf("listen %q: want unix:/path, host:port or fd:NAME: %w", spec, ErrBadListenSpec)
	}
	l, err := net.Listen("tcp", spec)
	if err != nil {
		return nil, fmt.Errorf("listen %q: %w", spec, err)
	}
	return l, nil
}
