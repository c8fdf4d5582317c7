// Package client is the Go client of ScheduleZero's REST API (/api/v1, plus
// the original endpoints it needs). The schedulezero CLI is built on it.
//
// It exists so that no caller hand-rolls HTTP: every call takes a context and
// is bounded by a default timeout, the scheduler can be reached over TCP
// ("http://host:port") or a unix socket ("unix:/path/to/api.sock"), and
// failures come back typed: *APIError for an error answer of the server
// (with the offending field and the fix), ErrUnreachable when no answer came.
package client
