package handlername

import (
	"encoding/json"
	"fmt"
	"time"
)

// Duration is a time.Duration as the handler config file and the
// governor's API write it: a Go duration string ("1.5s", "5m"). A bare
// number is refused, since a hand-written 30 could mean seconds or
// nanoseconds; so is a negative duration, which no setting means anything
// by.
type Duration time.Duration

// MarshalJSON writes d as a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads a duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want a duration string such as \"5m\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	if v < 0 {
		return fmt.Errorf("duration %q is negative", s)
	}
	*d = Duration(v)
	return nil
}
