package handler

import (
	"encoding/json"
	"errors"

	"github.com/schedulezero/schedulezero/pkg/wire"
)

// failureReply is {"success":false,"error":...}, with "retry":false for a
// Permanent error, "timeout":true for a Timeout one, and the fields of a
// ResultError's result.
func failureReply(id string, err error) []byte {
	f := wire.Failure{Error: err.Error(), Permanent: IsPermanent(err), Timeout: IsTimeout(err)}
	var re ResultError
	if errors.As(err, &re) {
		if b, e := json.Marshal(re.Result()); e == nil {
			f.Fields = b
		}
	}
	return wire.FailureReply(id, f)
}

// notRunReply is a failure with "not_run":true: the job was refused
// before it started, so the scheduler may send it again, in the same
// attempt, to this handler's next registration.
func notRunReply(id string, err error) []byte {
	return wire.FailureReply(id, wire.Failure{Error: err.Error(), NotRun: true})
}
