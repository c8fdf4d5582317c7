package schedulerd

import (
	"context"

	"github.com/schedulezero/schedulezero/pkg/field"
	gclient "github.com/schedulezero/schedulezero/pkg/governor/client"
	"github.com/schedulezero/schedulezero/pkg/web"
)

// dashboardGovernor is the client of schedulezero-governor's API the
// dashboard's Handlers page reads and restarts handlers through; nil (no
// governor configured) when addr is empty. The client dials per call:
// a governor that is down or starts later costs nothing here.
func (d *Daemon) dashboardGovernor(addr string) (web.Governor, error) {
	if addr == "" {
		return nil, nil
	}
	gc, err := gclient.New(addr)
	if err != nil {
		return nil, field.Errorf("governor-api", "%s", err).WithFix("use unix:/run/schedulezero/governor.sock, a socket path or http://host:port")
	}
	d.onStop("governor client", func(context.Context) error { gc.Close(); return nil })
	return gc, nil
}
