package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Protocol versions. Version 0 is the original's: one request at a time per
// REP socket, no correlation id. Version 2 is ours: many requests in flight
// on one connection, each reply echoing the request's "id". Version 3 adds
// batches: a frame may be a JSON array of requests (or of replies), so that
// many jobs cross the socket in one message; a single object stays valid.
// Version 4 authenticates the job channel: the handler sends a job token
// in its register request (on the channel its secret guards), and every
// request the scheduler sends on the job channel carries it back.
// Version 5 adds the handler's journal: the scheduler may ask whether the
// handler knows an attempt (MethodKnown), and the handler answers a job it
// already ran, or is running, from its journal instead of running it again.
const (
	ProtocolOriginal  = 0
	ProtocolPipelined = 2
	ProtocolBatched   = 3
	ProtocolJobToken  = 4
	ProtocolJournal   = 5
	// ProtocolLatest is the highest version this package speaks.
	ProtocolLatest = ProtocolJournal
)

// MaxBatch bounds the requests or replies one batch frame carries.
const MaxBatch = 256

// SplitBatch returns the messages of one frame: the elements of a JSON
// array (protocol 3), or the frame itself when it is not an array. Each
// element is then decoded by DecodeRequest or DecodeReply.
func SplitBatch(b []byte) ([][]byte, error) {
	t := bytes.TrimSpace(b)
	if len(t) == 0 || t[0] != '[' {
		return [][]byte{b}, nil
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(t, &elems); err != nil {
		return nil, fmt.Errorf("batch: %w", err)
	}
	if len(elems) == 0 {
		return nil, fmt.Errorf("batch: empty array")
	}
	out := make([][]byte, len(elems))
	for i, e := range elems {
		out[i] = e
	}
	return out, nil
}

// AppendBatch appends msgs, each one encoded JSON object, as one frame:
// the object itself when there is one, else a JSON array of them.
func AppendBatch(dst []byte, msgs [][]byte) []byte {
	if len(msgs) == 1 {
		return append(dst, msgs[0]...)
	}
	dst = append(dst, '[')
	for i, m := range msgs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, m...)
	}
	return append(dst, ']')
}

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
	// JobToken (protocol 4) is the token the handler sent when it
	// registered: it proves the request comes from the scheduler the
	// handler registered with.
	JobToken string `json:"job_token,omitempty"`
}

// DecodeRequest parses one request frame. It must be a JSON object with a
// non-empty string "method"; "params", when present, must be an object or
// null.
func DecodeRequest(b []byte) (Request, error) {
	if r, ok := decodeRequestFast(b); ok {
		return r, nil
	}
	return decodeRequestSlow(b)
}

// decodeRequestSlow is DecodeRequest by encoding/json.
func decodeRequestSlow(b []byte) (Request, error) {
	var r Request
	if err := checkObject(b); err != nil {
		return Request{}, fmt.Errorf("request: %w", err)
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return Request{}, fmt.Errorf("request: %w", jsonError(b, err))
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

// DecodeBatch parses a protocol 3 batch frame of requests in one pass. It
// reports false when b is not a batch or any request in it is not valid;
// SplitBatch and DecodeRequest then find which and why.
func DecodeBatch(b []byte) ([]Request, bool) {
	if reqs, ok := decodeBatchFast(b); ok {
		return reqs, true
	}
	return decodeBatchSlow(b)
}

// decodeBatchSlow is DecodeBatch by encoding/json.
func decodeBatchSlow(b []byte) ([]Request, bool) {
	t := bytes.TrimSpace(b)
	if len(t) == 0 || t[0] != '[' {
		return nil, false
	}
	var reqs []Request
	if json.Unmarshal(t, &reqs) != nil || len(reqs) == 0 {
		return nil, false
	}
	for i := range reqs {
		r := &reqs[i]
		if r.Method == "" {
			return nil, false
		}
		if p := bytes.TrimSpace(r.Params); len(p) > 0 {
			if bytes.Equal(p, []byte("null")) {
				r.Params = nil
			} else if p[0] != '{' {
				return nil, false
			}
		}
	}
	return reqs, true
}

// checkObject rejects a frame that is not a JSON object. The JSON itself is
// validated by json.Unmarshal, which checks the whole input before it
// decodes anything.
func checkObject(b []byte) error {
	t := bytes.TrimSpace(b)
	if len(t) == 0 {
		return fmt.Errorf("empty frame")
	}
	if t[0] != '{' {
		return fmt.Errorf("not a JSON object")
	}
	return nil
}

// jsonError names a syntax error plainly ("invalid JSON"), as the wire has
// always answered it; a well-formed frame with a field of the wrong type
// keeps json's message, which names the field.
func jsonError(b []byte, err error) error {
	if !json.Valid(b) {
		return errors.New("invalid JSON")
	}
	return err
}

// lastFrame returns the payload of a message whose leading frames are a
// routing envelope (identities and the empty delimiter).
func lastFrame(frames [][]byte) []byte {
	if len(frames) == 0 {
		return nil
	}
	return frames[len(frames)-1]
}
