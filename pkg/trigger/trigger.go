// Package trigger turns the trigger objects that users send ("date",
// "interval", "cron", "calendar") into values that compute fire times.
//
// A Trigger is pure: it knows nothing of clocks, stores or missed runs. The
// scheduler engine asks it for the next occurrence after a given instant and
// applies its own policies on top.
package trigger

import "time"

// Trigger computes fire times.
type Trigger interface {
	// Next returns the earliest fire time strictly after t and true, or the
	// zero time and false when the trigger has no occurrence after t.
	Next(t time.Time) (time.Time, bool)
}
