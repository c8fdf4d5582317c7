package trigger

import "time"

// Date fires once, at At.
type Date struct{ At time.Time }

// Next returns At when it is after t.
func (d Date) Next(t time.Time) (time.Time, bool) {
	if d.At.After(t) {
		return d.At, true
	}
	return time.Time{}, false
}
