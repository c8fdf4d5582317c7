package governor

import "errors"

// Sentinel errors of the governor; match them with errors.Is.
var (
	// ErrNotFound means no handler of that name is managed.
	ErrNotFound = errors.New("handler not found")
	// ErrExists means a handler of that name is already managed.
	ErrExists = errors.New("handler already exists")
	// ErrNotManaged means a unit outside schedulezero-handler@*.service was
	// named; the governor never acts on it.
	ErrNotManaged = errors.New("unit is not a schedulezero handler")
	// ErrBudgetExhausted means the handler used up its restart budget and is
	// left stopped until an operator restarts it.
	ErrBudgetExhausted = errors.New("restart budget exhausted")
	// ErrNotRunning means the supervisor was not started or already stopped.
	ErrNotRunning = errors.New("governor not running")
)
