package wire

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
)

// The job request's codecs without reflection: the scheduler encodes one
// per execution, the handler decodes one. Each takes the common shape and
// leaves anything else to encoding/json, which it matches byte for byte
// (FuzzEncodeRequest, FuzzDecodeRequestFast).

// encodeRequest is json.Marshal(req).
func encodeRequest(req Request) ([]byte, error) {
	// The keys and numbers take at most 128 bytes.
	n := 128 + len(req.Method) + len(req.Params) + len(req.ID) + len(req.ExecutionID) + len(req.ScheduleID) + len(req.JobToken)
	if b, ok := appendRequest(make([]byte, 0, n), &req); ok {
		return b, nil
	}
	return json.Marshal(req)
}

// appendRequest appends req as json.Marshal encodes it, when every string
// is plain (printable ASCII that json.Marshal writes as it is) and the
// params are compact and plain; ok false otherwise.
func appendRequest(dst []byte, req *Request) ([]byte, bool) {
	if !plainASCII(req.Method) || !plainASCII(req.ID) || !plainASCII(req.ExecutionID) ||
		!plainASCII(req.ScheduleID) || !plainASCII(req.JobToken) {
		return nil, false
	}
	dst = append(dst, `{"method":"`...)
	dst = append(dst, req.Method...)
	dst = append(dst, '"')
	if len(req.Params) > 0 {
		if !compactPlain(req.Params) {
			return nil, false
		}
		dst = append(dst, `,"params":`...)
		dst = append(dst, req.Params...)
	}
	dst = appendStringField(dst, `,"id":"`, req.ID)
	dst = appendStringField(dst, `,"execution_id":"`, req.ExecutionID)
	dst = appendStringField(dst, `,"schedule_id":"`, req.ScheduleID)
	dst = appendIntField(dst, `,"attempt":`, int64(req.Attempt))
	dst = appendIntField(dst, `,"deadline_ms":`, req.DeadlineMS)
	dst = appendIntField(dst, `,"v":`, int64(req.V))
	dst = appendStringField(dst, `,"job_token":"`, req.JobToken)
	return append(dst, '}'), true
}

// appendStringField appends an omitempty string field; prefix ends with
// the value's opening quote.
func appendStringField(dst []byte, prefix, v string) []byte {
	if v == "" {
		return dst
	}
	dst = append(dst, prefix...)
	dst = append(dst, v...)
	return append(dst, '"')
}

func appendIntField(dst []byte, prefix string, v int64) []byte {
	if v == 0 {
		return dst
	}
	return strconv.AppendInt(append(dst, prefix...), v, 10)
}

// plainASCII reports whether json.Marshal writes s as it is, between
// quotes: printable ASCII but the quote, the backslash and the three it
// escapes for HTML.
func plainASCII(s string) bool {
	for i := range len(s) {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// compactPlain reports whether json.Marshal writes raw, a RawMessage, as
// it is: valid JSON without insignificant whitespace, in ASCII, without
// the characters it escapes for HTML.
func compactPlain(raw []byte) bool {
	for _, c := range raw {
		if c >= 0x7f || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	s := scanner{b: raw}
	return s.value(0, 0) == len(raw) && !s.ws
}

// requestNames are the fields of Request.
var requestNames = []string{"method", "params", "id", "execution_id", "schedule_id", "attempt", "deadline_ms", "v", "job_token"}

// request decodes the request object at i of s.b as
// json.Unmarshal into a Request does, and returns the index after it; ok
// false when it is not of the common shape. Its strings share one
// allocation; its params are a copy.
func (s *scanner) request(i int) (r Request, end int, ok bool) {
	b := s.b
	if i >= len(b) || b[i] != '{' {
		return Request{}, 0, false
	}
	var (
		seen uint
		strs [5][2]int // method, id, execution_id, schedule_id, job_token: their spans
		n    int       // their bytes
	)
	j := s.skipSpace(i + 1)
	more := j < len(b) && b[j] != '}'
	if !more {
		j++
	}
	for more {
		key, v, ok := s.member(j)
		if !ok {
			return Request{}, 0, false
		}
		f := -1
		switch string(key) {
		case "method", "id", "execution_id", "schedule_id", "job_token":
			k := 0
			switch string(key) {
			case "method":
				f, k = 0, 0
			case "id":
				f, k = 2, 1
			case "execution_id":
				f, k = 3, 2
			case "schedule_id":
				f, k = 4, 3
			default:
				f, k = 8, 4
			}
			if v >= len(b) || b[v] != '"' {
				return Request{}, 0, false
			}
			var esc, high bool
			end, esc, high = s.str(v)
			if end < 0 || esc || high {
				return Request{}, 0, false
			}
			strs[k] = [2]int{v + 1, end - 1}
			n += end - 1 - (v + 1)
		case "params":
			f = 1
			if v >= len(b) || b[v] != '{' { // null and the rest: said there
				return Request{}, 0, false
			}
			end = s.value(v, 1)
			if end > 0 {
				r.Params = json.RawMessage(bytes.Clone(b[v:end]))
			}
		case "attempt", "deadline_ms", "v":
			var integer bool
			end, integer = s.number(v)
			if end < 0 || !integer {
				return Request{}, 0, false
			}
			bits := 64
			if string(key) != "deadline_ms" {
				bits = strconv.IntSize
			}
			x, err := strconv.ParseInt(string(b[v:end]), 10, bits)
			if err != nil {
				return Request{}, 0, false
			}
			switch string(key) {
			case "attempt":
				f, r.Attempt = 5, int(x)
			case "deadline_ms":
				f, r.DeadlineMS = 6, x
			default:
				f, r.V = 7, int(x)
			}
		default:
			if foldsTo(key, requestNames) {
				return Request{}, 0, false
			}
			end = s.value(v, 1)
		}
		if end < 0 {
			return Request{}, 0, false
		}
		if f >= 0 {
			if seen&(1<<f) != 0 {
				return Request{}, 0, false
			}
			seen |= 1 << f
		}
		if j, more, ok = s.next(end); !ok {
			return Request{}, 0, false
		}
	}
	if strs[0][1] <= strs[0][0] {
		return Request{}, 0, false // "method" is missing or empty: said there
	}
	// One string for all, sliced: a request's strings live and die
	// together.
	var sb strings.Builder
	sb.Grow(n)
	for _, sp := range strs {
		sb.Write(b[sp[0]:sp[1]])
	}
	all, at := sb.String(), 0
	for k, sp := range strs {
		w := sp[1] - sp[0]
		v := all[at : at+w]
		at += w
		switch k {
		case 0:
			r.Method = v
		case 1:
			r.ID = v
		case 2:
			r.ExecutionID = v
		case 3:
			r.ScheduleID = v
		default:
			r.JobToken = v
		}
	}
	return r, j, true
}

// decodeRequestFast is DecodeRequest for a request of the common shape.
func decodeRequestFast(b []byte) (Request, bool) {
	s := scanner{b: b}
	r, end, ok := s.request(s.skipSpace(0))
	if !ok || s.skipSpace(end) != len(b) {
		return Request{}, false
	}
	return r, true
}

// decodeBatchFast is DecodeBatch for a batch of requests of the common
// shape.
func decodeBatchFast(b []byte) ([]Request, bool) {
	t := bytes.TrimSpace(b) // as DecodeBatch reads it
	if len(t) == 0 || t[0] != '[' {
		return nil, false
	}
	s := scanner{b: t}
	reqs := make([]Request, 0, min(MaxBatch, bytes.Count(t, []byte(`"method"`))))
	if !s.array(func(i int) (int, bool) {
		r, end, ok := s.request(i)
		if ok {
			reqs = append(reqs, r)
		}
		return end, ok
	}) {
		return nil, false
	}
	return reqs, true
}
