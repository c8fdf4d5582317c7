package schedulerd

import "context"

// OnStop adds a cleanup to d, run first by Stop.
func OnStop(d *Daemon, name string, fn func(context.Context) error) { d.onStop(name, fn) }
