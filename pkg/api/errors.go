package api

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/schedulezero/schedulezero/pkg/field"
	"github.com/schedulezero/schedulezero/pkg/store"
	"github.com/schedulezero/schedulezero/pkg/wire"
)

// ErrorBody is the JSON error envelope of every non-2xx response.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail describes one failed request. Field and Fix are set when the
// problem is one input field.
type ErrorDetail struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
	Fix     string `json:"fix,omitempty"`
}

// httpError is an error that already knows its status; the request decoders
// return it for problems that are not 400 (413) and for field errors.
type httpError struct {
	status int
	detail ErrorDetail
}

func (e *httpError) Error() string { return e.detail.Message }

func fieldErr(status int, name, msg, fix string) *httpError {
	return &httpError{status: status, detail: ErrorDetail{Code: status, Message: msg, Field: name, Fix: fix}}
}

// statusOf maps an error to the HTTP status and the detail sent to the
// client. This is the only place where engine errors become statuses (see
// Backend). Unknown errors are 500 with a generic message: their text may
// hold internals and is logged instead.
func statusOf(err error) (int, ErrorDetail) {
	var he *httpError
	if errors.As(err, &he) {
		return he.status, he.detail
	}
	var fe *field.Error
	if errors.As(err, &fe) {
		fe = withRESTFix(fe)
		return http.StatusBadRequest, ErrorDetail{Code: http.StatusBadRequest, Message: fe.Error(), Field: fe.Field, Fix: fe.Fix}
	}
	status := http.StatusInternalServerError
	switch {
	case errors.Is(err, store.ErrNotFound):
		status = http.StatusNotFound
	case errors.Is(err, store.ErrExists):
		status = http.StatusConflict
	case errors.Is(err, wire.ErrUnavailable):
		status = http.StatusServiceUnavailable
	case errors.Is(err, wire.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		status = http.StatusGatewayTimeout
	}
	msg := "internal error"
	if status != http.StatusInternalServerError {
		msg = err.Error()
	}
	return status, ErrorDetail{Code: status, Message: msg}
}

// restFixes are what this API adds to the engine's fix for a field: the
// engine speaks of handlers, this package of the paths that list them.
var restFixes = map[string]string{
	"handler_id": "see GET /api/v1/handlers",
}

// withRESTFix returns fe with the REST wording for its field appended to
// its fix, or fe itself when there is none.
func withRESTFix(fe *field.Error) *field.Error {
	extra, ok := restFixes[fe.Field]
	if !ok || fe.Fix == "" || strings.Contains(fe.Fix, extra) {
		return fe
	}
	c := *fe
	c.Fix = fe.Fix + ", " + extra
	return &c
}
