package store

import "errors"

// Sentinel errors returned (wrapped with the object they concern) by DB
// methods. Test for them with errors.Is.
var (
	// ErrNotFound reports that a schedule, handler or execution does not exist.
	ErrNotFound = errors.New("not found")
	// ErrExists reports that a schedule already exists and replace was false.
	ErrExists = errors.New("already exists")
	// ErrInUse reports that another process (or another DB in this process)
	// holds the file's lock for longer than Options.OpenTimeout.
	ErrInUse = errors.New("in use by another scheduler")
	// ErrClosed reports a call on a DB after Close.
	ErrClosed = errors.New("store closed")
	// ErrNewerSchema reports a file written by a newer ScheduleZero whose
	// schema this build cannot read.
	ErrNewerSchema = errors.New("schema too new")
)
