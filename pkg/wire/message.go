package wire

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Protocol versions. Version 0 is the original's: one request at a time per
// REP socket, no correlation id. Version 2 is ours: many requests in flight
// on one connection, each reply echoing the request's "id".
const (
	ProtocolOriginal  = 0
	ProtocolPipelined = 2
)

// Request is one request frame. Method and Params are the original's
// fields; the others are extensions that the original's Python handlers
// ignore.
type Request struct {
	Method string          `json:"method"`
	Params json.RawMessage `json:"params,omitempty"`
	// ID correlates a reply with its request on a pipelined connection.
	ID          string `json:"id,omitempty"`
	ExecutionID string `json:"execution_id,omitempty"`
	// ScheduleID names the schedule that fired (empty for a one-off run),
	// so that the handler's log lines can be found by schedule.
	ScheduleID string `json:"schedule_id,omitempty"`
	Attempt    int    `json:"attempt,omitempty"`
	// DeadlineMS is the job deadline in Unix milliseconds.
	DeadlineMS int64 `json:"deadline_ms,omitempty"`
	// V is the protocol version of the sender.
	V int `json:"v,omitempty"`
}

// Reply is one decoded reply frame.
type Reply struct {
	// Raw is the whole reply object as received.
	Raw     json.RawMessage
	Success bool
	Error   string
	// ID is the echoed correlation id (protocol >= 2 peers).
	ID string
}

// DecodeRequest parses one request frame. It must be a JSON object with a
// non-empty string "method"; "params", when present, must be an object or
// null.
func DecodeRequest(b []byte) (Request, error) {
	var r Request
	if err := checkObject(b); err != nil {
		return Request{}, fmt.Errorf("request: %w", err)
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return Request{}, fmt.Errorf("request: %w", err)
	}
	if r.Method == "" {
		return Request{}, fmt.Errorf("request: \"method\" is missing or empty")
	}
	if p := bytes.TrimSpace(r.Params); len(p) > 0 {
		if bytes.Equal(p, []byte("null")) {
			r.Params = nil
		} else if p[0] != '{' {
			return Request{}, fmt.Errorf("request %q: \"params\" must be an object", r.Method)
		}
	}
	return r, nil
}

// DecodeReply parses one reply frame: a JSON object with a boolean
// "success"; "error" and "id", when present, must be strings.
func DecodeReply(b []byte) (Reply, error) {
	if err := checkObject(b); err != nil {
		return Reply{}, fmt.Errorf("reply: %w", err)
	}
	var r struct {
		Success *bool   `json:"success"`
		Error   *string `json:"error"`
		ID      *string `json:"id"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return Reply{}, fmt.Errorf("reply: %w", err)
	}
	if r.Success == nil {
		return Reply{}, fmt.Errorf("reply: \"success\" is missing")
	}
	out := Reply{Raw: append(json.RawMessage(nil), b...), Success: *r.Success}
	if r.Error != nil {
		out.Error = *r.Error
	}
	if r.ID != nil {
		out.ID = *r.ID
	}
	return out, nil
}

func checkObject(b []byte) error {
	t := bytes.TrimSpace(b)
	if len(t) == 0 {
		return fmt.Errorf("empty frame")
	}
	if t[0] != '{' {
		return fmt.Errorf("not a JSON object")
	}
	if !json.Valid(t) {
		return fmt.Errorf("invalid JSON")
	}
	return nil
}

// lastFrame returns the payload of a message whose leading frames are a
// routing envelope (identities and the empty delimiter).
func lastFrame(frames [][]byte) []byte {
	if len(frames) == 0 {
		return nil
	}
	return frames[len(frames)-1]
}
