package wire

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Reply is one decoded reply frame: the original's "success" and "error",
// and the extensions our runner adds, which the original's handlers never
// send (so each is false or nil from them). It is decoded once, by
// DecodeReply; nobody needs to read Raw again for these.
type Reply struct {
	// Raw is the whole reply object as received: the job's result as the
	// scheduler records it.
	Raw     json.RawMessage
	Success bool
	Error   string
	// ID is the echoed correlation id (protocol >= 2 peers).
	ID string
	// Retry is the reply's "retry": false from a handler.Permanent error,
	// nil when absent (the retry is the policy's).
	Retry *bool
	// Timeout ("timeout":true) says the job's deadline passed on the
	// handler, which ended it (handler.Timeout).
	Timeout bool
	// NotRun ("not_run":true) says the handler refused the job before it
	// started it (it is stopping, or the job token did not match), so the
	// job may be sent again in the same attempt.
	NotRun bool
	// Refused ("refused":true, with NotRun) says the refusal was for the
	// job token.
	Refused bool
	// Closing marks the Closing frame (see IsClosing).
	Closing bool
}

// Retries reports whether the handler left the retry to the policy.
func (r Reply) Retries() bool { return r.Retry == nil || *r.Retry }

// Closing is the frame a handler (protocol 2 and later) sends each
// pipelining peer right before it closes its job socket, after its last
// reply to that peer: it reads nothing after it, so a request of the peer
// that has no reply yet was not read and may be sent elsewhere (Conn fails
// it with ErrUnavailable, not ErrTimeout). It has no "id": a peer that does
// not know it drops it as a reply nobody waits for.
var Closing = []byte(`{"success":false,"error":"handler closing: it read no request after its last reply","closing":true}`)

// IsClosing reports whether r is the Closing frame.
func IsClosing(r Reply) bool { return r.Closing && r.ID == "" && !r.Success }

// DecodeReply parses one reply frame: a JSON object with a boolean
// "success"; "error" and "id", when present, must be strings. Reply.Raw
// is b itself, not a copy. The extension fields are read leniently, as
// they always were: one of the wrong type is taken as absent ("retry" and
// "timeout" together, as one failure detail), never as a bad reply.
func DecodeReply(b []byte) (Reply, error) {
	if r, ok := decodeReplyFast(b); ok {
		return r, nil
	}
	return decodeReplySlow(b)
}

// decodeReplySlow is DecodeReply by encoding/json: what decodeReplyFast
// leaves, and the reference it is held to (FuzzDecodeReplyFast).
func decodeReplySlow(b []byte) (Reply, error) {
	if err := checkObject(b); err != nil {
		return Reply{}, fmt.Errorf("reply: %w", err)
	}
	var r struct {
		Success *bool           `json:"success"`
		Error   *string         `json:"error"`
		ID      *string         `json:"id"`
		Retry   json.RawMessage `json:"retry"`
		Timeout json.RawMessage `json:"timeout"`
		NotRun  json.RawMessage `json:"not_run"`
		Refused json.RawMessage `json:"refused"`
		Closing json.RawMessage `json:"closing"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return Reply{}, fmt.Errorf("reply: %w", jsonError(b, err))
	}
	if r.Success == nil {
		return Reply{}, fmt.Errorf("reply: \"success\" is missing")
	}
	out := Reply{Raw: b, Success: *r.Success}
	if r.Error != nil {
		out.Error = *r.Error
	}
	if r.ID != nil {
		out.ID = *r.ID
	}
	out.extensions(replyExtensions{r.Retry, r.Timeout, r.NotRun, r.Refused, r.Closing})
	return out, nil
}

// replyExtensions are the raw values of a reply's extension fields (nil:
// absent).
type replyExtensions struct {
	retry, timeout, notRun, refused, closing []byte
}

// extensions sets r's extension fields from their raw values, leniently.
func (r *Reply) extensions(x replyExtensions) {
	retry, okR := optBool(x.retry)
	timeout, okT := optBool(x.timeout)
	if okR && okT {
		r.Retry = retry
		r.Timeout = timeout != nil && *timeout
	}
	r.NotRun = isTrue(x.notRun)
	r.Refused = isTrue(x.refused)
	r.Closing = isTrue(x.closing)
}

// optBool reads an optional JSON boolean: nil for absent or null, false
// in ok for another type.
func optBool(raw []byte) (v *bool, ok bool) {
	switch t := bytes.TrimSpace(raw); {
	case len(t) == 0 || bytes.Equal(t, []byte("null")):
		return nil, true
	case bytes.Equal(t, []byte("true")):
		v := true
		return &v, true
	case bytes.Equal(t, []byte("false")):
		v := false
		return &v, true
	}
	return nil, false
}

func isTrue(raw []byte) bool {
	v, ok := optBool(raw)
	return ok && v != nil && *v
}
