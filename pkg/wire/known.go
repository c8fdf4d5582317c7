package wire

import (
	"encoding/json"
	"fmt"
)

// MethodKnown is the request (protocol 5) by which the scheduler asks a
// handler whether it knows one attempt of an execution, after a restart
// left that attempt recorded running:
//
//	{"method":"sz.known","params":{"execution_id":"01J...","attempt":2},"id":"..."}
//
// The handler answers {"success":true,"state":"finished","reply":{...}}
// with the reply it sent when the attempt ended (kept in its journal),
// {"success":true,"state":"running"} while it runs, and
// {"success":true,"state":"unknown"} when it never saw it or no longer
// remembers it.
const MethodKnown = "sz.known"

// What a handler answers to MethodKnown.
const (
	KnownFinished = "finished"
	KnownRunning  = "running"
	KnownUnknown  = "unknown"
)

// Known is a handler's answer to MethodKnown.
type Known struct {
	State string
	// Reply is the attempt's stored reply when State is KnownFinished.
	Reply Reply
}

// KnownRequest is the MethodKnown request for one attempt.
func KnownRequest(executionID string, attempt int) Request {
	params, _ := json.Marshal(map[string]any{"execution_id": executionID, "attempt": attempt})
	return Request{Method: MethodKnown, Params: params, ExecutionID: executionID, Attempt: attempt}
}

// DecodeKnown reads a handler's answer to MethodKnown.
func DecodeKnown(r Reply) (Known, error) {
	if !r.Success {
		return Known{}, fmt.Errorf("%s: %s: %w", MethodKnown, r.Error, ErrProtocol)
	}
	var v struct {
		State string          `json:"state"`
		Reply json.RawMessage `json:"reply"`
	}
	if err := json.Unmarshal(r.Raw, &v); err != nil {
		return Known{}, fmt.Errorf("%s: %w", MethodKnown, err)
	}
	switch v.State {
	case KnownRunning, KnownUnknown:
		return Known{State: v.State}, nil
	case KnownFinished:
		stored, err := DecodeReply(v.Reply)
		if err != nil {
			return Known{}, fmt.Errorf("%s: stored %w", MethodKnown, err)
		}
		return Known{State: v.State, Reply: stored}, nil
	}
	return Known{}, fmt.Errorf("%s: state %q is not finished, running or unknown: %w", MethodKnown, v.State, ErrProtocol)
}
