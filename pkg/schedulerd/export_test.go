package schedulerd

import (
	"context"

	"github.com/schedulezero/schedulezero/pkg/scheduler"
)

// OnStop adds a cleanup to d, run first by Stop.
func OnStop(d *Daemon, name string, fn func(context.Context) error) { d.onStop(name, fn) }

// Engine is the daemon's engine, for the tests of this package only: in
// production every call reaches the engine through the REST API.
func (d *Daemon) Engine() *scheduler.Scheduler { return d.engine }
