package scheduler

import (
	"encoding/json"
	"fmt"

	"github.com/schedulezero/schedulezero/pkg/wire"
)

// What the engine makes of a handler's reply beyond success and error: a
// refusal without starting (not_run) may be sent again; a kept result is
// bounded. The reply itself is decoded once, by pkg/wire (wire.Reply).

// notRun turns a reply that says the handler refused the job before
// starting it ("not_run":true, a handler that is stopping) into an error
// wrapping wire.ErrUnavailable: like a request that never left, it may be
// sent again.
func notRun(reply wire.Reply, err error) error {
	if err != nil || reply.Success {
		return err
	}
	if !reply.NotRun {
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

func bound(raw json.RawMessage) json.RawMessage {
	if len(raw) <= maxResultBytes {
		return raw
	}
	b, _ := json.Marshal(fmt.Sprintf("reply of %d bytes not kept (limit %d)", len(raw), maxResultBytes))
	return b
}
