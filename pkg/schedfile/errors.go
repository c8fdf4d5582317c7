package schedfile

import (
	"errors"

	"fmt"
	"github.com/schedulezero/schedulezero/pkg/field"
	"path/filepath"
)

// Error is one problem in a schedule file: where it is, which key, what is
// wrong and how to fix it.
type Error struct {
	ID      string // the schedule the file describes
	File    string
	Line    int // 0: the file as a whole
	Key     string
	Problem string
	Fix     string
	Err     error // the engine's error, when the engine refused the file
}

// Unwrap is the engine's error, if any.
func (e *Error) Unwrap() error { return e.Err }

func (e *Error) Error() string { return e.format(e.File) }

// Short is Error with the file's base name, for one-line summaries
// (systemd's STATUS=).
func (e *Error) Short() string { return e.format(filepath.Base(e.File)) }

func (e *Error) format(file string) string {
	msg := file
	if e.Line > 0 {
		msg += fmt.Sprintf(":%d", e.Line)
	}
	msg += ": "
	if e.Key != "" {
		msg += e.Key + "=: "
	}
	msg += e.Problem
	if e.Fix != "" {
		msg += " (" + e.Fix + ")"
	}
	return msg
}

func asField(err error) *field.Error {
	var fe *field.Error
	if errors.As(err, &fe) {
		return fe
	}
	return nil
}
