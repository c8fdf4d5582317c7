package schedulerd

import "github.com/schedulezero/schedulezero/pkg/scheduler"

// Engine is the daemon's engine, for the tests of this package only: in
// production every call reaches the engine through the REST API.
func (d *Daemon) Engine() *scheduler.Scheduler { return d.engine }
