package wire

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// The reply builders: the one place a reply frame is encoded, the inverse
// of DecodeReply. The original's handlers write the same shape.

// Failure is what a failure reply says.
type Failure struct {
	Error string
	// Fields is a JSON object whose fields the reply carries besides
	// (a handler.ResultError's result); nil for none.
	Fields json.RawMessage
	// Permanent sends "retry":false: the job must not be retried.
	Permanent bool
	// Timeout sends "timeout":true: the job's deadline passed.
	Timeout bool
	// NotRun sends "not_run":true: the job was refused before it started,
	// so it may be sent again in the same attempt; Refused adds
	// "refused":true (the job token did not match).
	NotRun, Refused bool
}

// FailureReply is {"success":false,"error":...} with f's other fields.
func FailureReply(id string, f Failure) []byte {
	m := map[string]any{}
	if len(f.Fields) > 0 {
		var obj map[string]json.RawMessage
		if json.Unmarshal(f.Fields, &obj) == nil {
			for k, v := range obj {
				m[k] = v
			}
		}
	}
	m["success"] = false
	m["error"] = f.Error
	if f.Permanent {
		m["retry"] = false
	}
	if f.Timeout {
		m["timeout"] = true
	}
	if f.NotRun {
		m["not_run"] = true
	}
	if f.Refused {
		m["refused"] = true
	}
	return EncodeReply(id, m)
}

// SuccessReply is {"success":true,...result}: an object result is merged,
// any other result goes under "result".
func SuccessReply(id string, result any) []byte {
	m := map[string]any{}
	if result != nil {
		b, err := json.Marshal(result)
		if err != nil {
			return FailureReply(id, Failure{Error: fmt.Sprintf("result is not JSON: %v", err)})
		}
		if out, ok := spliceReply(id, b); ok {
			return out
		}
		var obj map[string]json.RawMessage
		if len(b) > 0 && b[0] == '{' && json.Unmarshal(b, &obj) == nil {
			for k, v := range obj {
				m[k] = v
			}
		} else {
			m["result"] = json.RawMessage(b)
		}
	}
	m["success"] = true
	delete(m, "error")
	return EncodeReply(id, m)
}

// EncodeReply encodes the reply fields m, with "id" when id is not empty.
func EncodeReply(id string, m map[string]any) []byte {
	if id != "" {
		m["id"] = id
	}
	b, err := json.Marshal(m)
	if err != nil {
		return []byte(`{"success":false,"error":"reply is not JSON"}`)
	}
	return b
}

// spliceReply is SuccessReply's fast path for the common result, an object
// that names none of the reply's own keys: the object with "success" and
// "id" put in front, without decoding and re-encoding it. obj is
// json.Marshal's output, which is compact, so a key is always preceded by
// '{' or ',' and followed by ':', and inside a string value a quote is
// escaped: looking for `{"id":` and `,"id":` finds every top-level "id" key
// (and nested ones too, which only costs the slow path).
func spliceReply(id string, obj []byte) ([]byte, bool) {
	if len(obj) < 2 || obj[0] != '{' || hasKey(obj, "success") || hasKey(obj, "error") || hasKey(obj, "id") {
		return nil, false
	}
	out := make([]byte, 0, len(obj)+32+len(id))
	out = append(out, `{"success":true`...)
	switch {
	case id == "":
	case plainASCII(id): // the common id, as json.Marshal writes it
		out = append(out, `,"id":"`...)
		out = append(out, id...)
		out = append(out, '"')
	default:
		q, err := json.Marshal(id)
		if err != nil {
			return nil, false
		}
		out = append(out, `,"id":`...)
		out = append(out, q...)
	}
	if rest := bytes.TrimSpace(obj[1:]); len(rest) > 0 && rest[0] != '}' {
		out = append(out, ',')
		out = append(out, rest...)
	} else {
		out = append(out, '}')
	}
	return out, true
}

// hasKey reports whether compact JSON obj may have key at some level.
func hasKey(obj []byte, key string) bool {
	for i := 0; ; {
		j := bytes.Index(obj[i:], []byte(key))
		if j < 0 {
			return false
		}
		j += i
		if j >= 2 && j+len(key)+1 < len(obj) && obj[j-1] == '"' && (obj[j-2] == '{' || obj[j-2] == ',') &&
			obj[j+len(key)] == '"' && obj[j+len(key)+1] == ':' {
			return true
		}
		i = j + 1
	}
}
