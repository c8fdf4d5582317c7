package unitgen

import "errors"

// ErrInvalidConfig is wrapped by Render when a Config field cannot produce
// a valid unit.
var ErrInvalidConfig = errors.New("invalid unit config")
