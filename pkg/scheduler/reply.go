package scheduler

import (
	"encoding/json"
	"fmt"

	"github.com/schedulezero/schedulezero/pkg/wire"
)

// What a handler's reply says beyond success and error, decoded from its
// JSON: whether it refused the job without starting it, whether it may be
// retried, whether it timed out on the handler. The decoding is here only.

// notRun turns a reply that says the handler refused the job before
// starting it ("not_run":true, a handler that is stopping) into an error
// wrapping wire.ErrUnavailable: like a request that never left, it may be
// sent again.
func notRun(reply wire.Reply, err error) error {
	if err != nil || reply.Success {
		return err
	}
	var r struct {
		NotRun bool `json:"not_run"`
	}
	if json.Unmarshal(reply.Raw, &r) != nil || !r.NotRun {
		return nil
	}
	return notRunError(reply.Error)
}

// notRunError is the handler's reason for refusing a job it did not
// start. It is a wire.ErrUnavailable: the job may be sent again.
type notRunError string

func (e notRunError) Error() string {
	return fmt.Sprintf("the handler refused the job without starting it (%s), and no handler took it before the deadline", string(e))
}

func (notRunError) Is(target error) bool { return target == wire.ErrUnavailable }

// failure is what a failure reply says beyond "error": the runner's
// "retry": false (handler.Permanent) and "timeout": true (the job's
// deadline passed on the handler, handler.Timeout). The original's
// handlers send neither.
type failure struct {
	Retry   *bool `json:"retry"`
	Timeout bool  `json:"timeout"`
}

func failureOf(raw json.RawMessage) failure {
	var f failure
	if json.Unmarshal(raw, &f) != nil {
		return failure{}
	}
	return f
}

// retry reports whether the handler left the retry to the policy.
func (f failure) retry() bool { return f.Retry == nil || *f.Retry }

func bound(raw json.RawMessage) json.RawMessage {
	if len(raw) <= maxResultBytes {
		return raw
	}
	b, _ := json.Marshal(fmt.Sprintf("reply of %d bytes not kept (limit %d)", len(raw), maxResultBytes))
	return b
}
