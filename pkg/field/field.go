// Package field provides the error type that every validator in ScheduleZero
// returns for bad input, so that the REST API, the CLI and configuration
// loading can all name the offending field and the fix in the same way.
package field

import (
	"errors"
	"fmt"
)

// Error reports one invalid input field. Field uses the JSON path the user
// wrote ("trigger.run_date", "job_params"), Problem says what is wrong and
// Fix, when known, says what would be accepted.
type Error struct {
	Field   string
	Problem string
	Fix     string
}

// Errorf returns an *Error for field with a formatted problem.
func Errorf(field, format string, args ...any) *Error {
	return &Error{Field: field, Problem: fmt.Sprintf(format, args...)}
}

// WithFix returns a copy of e that carries a fix.
func (e *Error) WithFix(format string, args ...any) *Error {
	c := *e
	c.Fix = fmt.Sprintf(format, args...)
	return &c
}

func (e *Error) Error() string {
	msg := e.Field + ": " + e.Problem
	if e.Fix != "" {
		msg += " (" + e.Fix + ")"
	}
	return msg
}

// Prefix returns err with parent prepended to the field path when err is an
// *Error ("run_date" becomes "trigger.run_date"); other errors are returned
// unchanged.
func Prefix(parent string, err error) error {
	var fe *Error
	if !errors.As(err, &fe) {
		return err
	}
	c := *fe
	if c.Field == "" {
		c.Field = parent
	} else {
		c.Field = parent + "." + c.Field
	}
	return &c
}
