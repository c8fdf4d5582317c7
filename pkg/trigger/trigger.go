package trigger

import "time"

// Trigger computes fire times.
type Trigger interface {
	// Next returns the earliest fire time strictly after t and true, or the
	// zero time and false when the trigger has no occurrence after t.
	Next(t time.Time) (time.Time, bool)
}
