package wire

import "bytes"

// The one-pass reply decoder: the scheduler reads a reply per execution,
// and encoding/json (a validating scan, then a decoding one, by
// reflection) was a tenth of its CPU. It takes replies of the common
// shape and reports false for anything else, which DecodeReply's
// encoding/json path then decodes (or refuses) exactly as before.

// replyNames are the fields DecodeReply reads.
var replyNames = []string{"success", "error", "id", "retry", "timeout", "not_run", "refused", "closing"}

// decodeReplyFast is DecodeReply for a reply of the common shape; ok
// false: leave it to encoding/json.
func decodeReplyFast(b []byte) (Reply, bool) {
	s := scanner{b: b}
	i := s.skipSpace(0)
	r, end, ok := s.reply(i)
	if !ok || s.skipSpace(end) != len(b) {
		return Reply{}, false
	}
	r.Raw = b // as received, whitespace and all
	return r, true
}

// reply decodes the reply object at i and returns the index after it.
// Its Raw is the object's bytes.
func (s *scanner) reply(i int) (r Reply, end int, ok bool) {
	b := s.b
	if i >= len(b) || b[i] != '{' {
		return Reply{}, 0, false
	}
	start := i
	var x replyExtensions
	var seen uint
	j := s.skipSpace(i + 1)
	more := j < len(b) && b[j] != '}'
	if !more {
		j++
	}
	for more {
		key, v, ok := s.member(j)
		if !ok {
			return Reply{}, 0, false
		}
		f := -1
		switch string(key) {
		case "success":
			f = 0
			switch {
			case s.literal(v, "true") > 0:
				r.Success, end = true, v+4
			case s.literal(v, "false") > 0:
				r.Success, end = false, v+5
			default:
				return Reply{}, 0, false
			}
		case "error":
			f = 1
			r.Error, end, ok = s.plainString(v)
		case "id":
			f = 2
			r.ID, end, ok = s.plainString(v)
		case "retry", "timeout", "not_run", "refused", "closing":
			end = s.value(v, 1)
			raw := b[v:max(end, v)]
			switch string(key) {
			case "retry":
				f, x.retry = 3, raw
			case "timeout":
				f, x.timeout = 4, raw
			case "not_run":
				f, x.notRun = 5, raw
			case "refused":
				f, x.refused = 6, raw
			default:
				f, x.closing = 7, raw
			}
		default:
			if foldsTo(key, replyNames) {
				return Reply{}, 0, false
			}
			end = s.value(v, 1)
		}
		if !ok || end < 0 {
			return Reply{}, 0, false
		}
		if f >= 0 {
			if seen&(1<<f) != 0 {
				return Reply{}, 0, false // repeated: the last one wins there
			}
			seen |= 1 << f
		}
		if j, more, ok = s.next(end); !ok {
			return Reply{}, 0, false
		}
	}
	if seen&1 == 0 {
		return Reply{}, 0, false // "success" is missing: said there
	}
	r.Raw = b[start:j]
	r.extensions(x)
	return r, j, true
}

// decodeRepliesFast decodes the replies of one frame, a batch (protocol
// 3) or a single reply, into dst in one pass; ok false when any of it is
// unusual: SplitBatch and DecodeReply then find which and why.
func decodeRepliesFast(frame []byte, dst []Reply) ([]Reply, bool) {
	t := bytes.TrimSpace(frame) // as SplitBatch reads it
	if len(t) == 0 || t[0] != '[' {
		r, ok := decodeReplyFast(frame)
		return append(dst, r), ok
	}
	s := scanner{b: t}
	ok := s.array(func(i int) (int, bool) {
		r, end, ok := s.reply(i)
		if ok {
			dst = append(dst, r)
		}
		return end, ok
	})
	return dst, ok
}
