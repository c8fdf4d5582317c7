package governord

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/schedulezero/schedulezero/pkg/governor"
	"github.com/schedulezero/schedulezero/pkg/handlername"
	"github.com/schedulezero/schedulezero/pkg/unitctl"
)

// runtimeEndpoint gives a handler added without an endpoint a socket in the
// runtime directory the governor and the handler units share
// (/run/schedulezero/handler-NAME.sock, the handler template's own
// default): no port to race for, and only the schedulezero user and group
// reach it. A name too long for a socket path gets a loopback TCP port.
func runtimeEndpoint(dir string) func(string) (string, error) {
	return func(name string) (string, error) {
		p := handlername.RuntimeSocket(dir, name)
		if len(p) > maxSocketPath {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				return "", fmt.Errorf("pick an endpoint: %w", err)
			}
			defer l.Close() //nolint:errcheck // only the port number was wanted
			return "tcp://" + l.Addr().String(), nil
		}
		return "ipc://" + p, nil
	}
}

func cutUnix(s string) (string, bool) {
	if p, ok := strings.CutPrefix(s, "unix://"); ok {
		return p, true
	}
	return strings.CutPrefix(s, "unix:")
}

// backendUnits picks the UnitManager.
func (d *Daemon) backendUnits() (governor.UnitManager, error) {
	o := d.opts
	if o.Units != nil {
		d.backend = o.Backend
		return o.Units, nil
	}
	b := o.Backend
	if b == BackendAuto {
		b = BackendProcess
		if fi, err := os.Stat(o.SystemdDir); err == nil && fi.IsDir() {
			b = BackendSystemd
		}
	}
	d.backend = b
	if b == BackendSystemd {
		d.units = unitctl.New(unitctl.Options{Logger: o.Logger})
		return d.units, nil
	}
	bin := o.HandlerBin
	if bin == "" {
		bin = "schedulezero-handler"
		if exe, err := os.Executable(); err == nil {
			if p := filepath.Join(filepath.Dir(exe), "schedulezero-handler"); fileExists(p) {
				bin = p
			}
		}
	}
	pm, err := governor.NewProcessManager(governor.ProcessOptions{Binary: bin, ConfigDir: o.ConfigDir, Logger: o.Logger})
	if err != nil {
		return nil, err
	}
	d.procs = pm
	return pm, nil
}

func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir()
}
