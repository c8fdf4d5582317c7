package wire

import "unicode/utf8"

// A strict JSON scanner for the fast paths of the codecs (fastreply.go,
// fastrequest.go): one pass over a frame that both validates it and finds
// the fields the wire reads, where encoding/json scans every frame twice
// (Unmarshal validates the whole input before it decodes it) and decodes
// by reflection. The fast paths take only the common shape; anything
// unusual (an escape in a string they keep, a repeated or case-folded
// key, a null, a number that is not a plain integer, nesting deeper than
// maxScanDepth, any syntax error) is handed to encoding/json, which
// decides as it always did, with its messages.

// maxScanDepth bounds the nesting the scanner follows; deeper values go
// to encoding/json.
const maxScanDepth = 64

// scanner walks b. ws records whether insignificant whitespace was
// skipped anywhere: a value without any is already compact.
type scanner struct {
	b  []byte
	ws bool
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// skipSpace returns the index of the first non-whitespace byte at or
// after i.
func (s *scanner) skipSpace(i int) int {
	j := i
	for j < len(s.b) && isSpace(s.b[j]) {
		j++
	}
	if j != i {
		s.ws = true
	}
	return j
}

// str scans the string whose opening quote is at i and returns the index
// after its closing quote (-1: not a valid string), whether it has an
// escape, and whether it has a byte outside ASCII.
func (s *scanner) str(i int) (end int, esc, high bool) {
	b := s.b
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			return j + 1, esc, high
		case c == '\\':
			esc = true
			j++
			if j >= len(b) {
				return -1, esc, high
			}
			switch b[j] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if j+4 >= len(b) || !isHex(b[j+1]) || !isHex(b[j+2]) || !isHex(b[j+3]) || !isHex(b[j+4]) {
					return -1, esc, high
				}
				j += 4
			default:
				return -1, esc, high
			}
		case c < 0x20:
			return -1, esc, high
		case c >= utf8.RuneSelf:
			high = true
		}
	}
	return -1, esc, high
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// number scans the number at i and returns the index after it (-1: not a
// valid number) and whether it is a plain integer (no fraction, no
// exponent).
func (s *scanner) number(i int) (end int, integer bool) {
	b := s.b
	j := i
	if j < len(b) && b[j] == '-' {
		j++
	}
	switch {
	case j < len(b) && b[j] == '0':
		j++
	case j < len(b) && b[j] >= '1' && b[j] <= '9':
		for j < len(b) && isDigit(b[j]) {
			j++
		}
	default:
		return -1, false
	}
	integer = true
	if j < len(b) && b[j] == '.' {
		integer = false
		j++
		if j >= len(b) || !isDigit(b[j]) {
			return -1, false
		}
		for j < len(b) && isDigit(b[j]) {
			j++
		}
	}
	if j < len(b) && (b[j] == 'e' || b[j] == 'E') {
		integer = false
		j++
		if j < len(b) && (b[j] == '+' || b[j] == '-') {
			j++
		}
		if j >= len(b) || !isDigit(b[j]) {
			return -1, false
		}
		for j < len(b) && isDigit(b[j]) {
			j++
		}
	}
	return j, integer
}

// literal returns the index after lit when b[i:] starts with it, else -1.
func (s *scanner) literal(i int, lit string) int {
	if len(s.b)-i >= len(lit) && string(s.b[i:i+len(lit)]) == lit {
		return i + len(lit)
	}
	return -1
}

// value scans the value at i (no whitespace before it) and returns the
// index after it, or -1 when it is not valid or nests deeper than
// maxScanDepth.
func (s *scanner) value(i, depth int) int {
	if i >= len(s.b) {
		return -1
	}
	switch c := s.b[i]; {
	case c == '"':
		end, _, _ := s.str(i)
		return end
	case c == '{':
		return s.container(i, depth+1, '}', true)
	case c == '[':
		return s.container(i, depth+1, ']', false)
	case c == 't':
		return s.literal(i, "true")
	case c == 'f':
		return s.literal(i, "false")
	case c == 'n':
		return s.literal(i, "null")
	case c == '-' || isDigit(c):
		end, _ := s.number(i)
		return end
	}
	return -1
}

// container scans the object (keyed) or array whose opening bracket is at
// i and returns the index after its closing one, or -1.
func (s *scanner) container(i, depth int, closing byte, keyed bool) int {
	if depth > maxScanDepth {
		return -1
	}
	b := s.b
	i = s.skipSpace(i + 1)
	if i < len(b) && b[i] == closing {
		return i + 1
	}
	for {
		if keyed {
			if i >= len(b) || b[i] != '"' {
				return -1
			}
			if i, _, _ = s.str(i); i < 0 {
				return -1
			}
			if i = s.skipSpace(i); i >= len(b) || b[i] != ':' {
				return -1
			}
			i = s.skipSpace(i + 1)
		}
		if i = s.value(i, depth); i < 0 {
			return -1
		}
		i = s.skipSpace(i)
		if i >= len(b) {
			return -1
		}
		switch b[i] {
		case ',':
			i = s.skipSpace(i + 1)
		case closing:
			return i + 1
		default:
			return -1
		}
	}
}

// member scans, at i (after '{' or ',' and whitespace), one member's key
// and the whitespace and colon after it. It returns the key, plain ASCII
// without escapes, and the index of the value; ok false when the key is
// not plain (the caller's slow path decides) or the syntax is wrong.
func (s *scanner) member(i int) (key []byte, v int, ok bool) {
	b := s.b
	if i >= len(b) || b[i] != '"' {
		return nil, 0, false
	}
	end, esc, high := s.str(i)
	if end < 0 || esc || high {
		return nil, 0, false
	}
	key = b[i+1 : end-1]
	if v = s.skipSpace(end); v >= len(b) || b[v] != ':' {
		return nil, 0, false
	}
	return key, s.skipSpace(v + 1), true
}

// next scans what follows a member's value ending at i: the index of the
// next member and more true, or the index after the closing brace and
// more false; ok false on a syntax error.
func (s *scanner) next(i int) (j int, more, ok bool) {
	b := s.b
	if i = s.skipSpace(i); i >= len(b) {
		return 0, false, false
	}
	switch b[i] {
	case ',':
		return s.skipSpace(i + 1), true, true
	case '}':
		return i + 1, false, true
	}
	return 0, false, false
}

// plainString reads the string value at v when it needs no unescaping
// (encoding/json would return its bytes as they are): no escape and valid
// UTF-8. It returns the index after it; ok false otherwise.
func (s *scanner) plainString(v int) (str string, end int, ok bool) {
	if v >= len(s.b) || s.b[v] != '"' {
		return "", 0, false
	}
	end, esc, high := s.str(v)
	if end < 0 || esc || high && !utf8.Valid(s.b[v+1:end-1]) {
		return "", 0, false
	}
	return string(s.b[v+1 : end-1]), end, true
}

// foldsTo reports whether key, plain ASCII, equals one of names when
// ASCII case is ignored: encoding/json matches a struct field so, and a
// key that is not exactly the field's name goes to the slow path.
func foldsTo(key []byte, names []string) bool {
	for _, n := range names {
		if len(n) != len(key) {
			continue
		}
		same := true
		for i := range len(key) {
			c := key[i]
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != n[i] {
				same = false
				break
			}
		}
		if same {
			return true
		}
	}
	return false
}

// array scans the array that opens at s.b[0] and ends s.b, calling elem
// with the index of each element, which returns the index after it. It
// reports whether every element was taken and the array is well formed;
// an empty one is not (the fast paths leave it to encoding/json).
func (s *scanner) array(elem func(i int) (end int, ok bool)) bool {
	i := s.skipSpace(1)
	for {
		end, ok := elem(i)
		if !ok {
			return false
		}
		if i = s.skipSpace(end); i >= len(s.b) {
			return false
		}
		switch s.b[i] {
		case ',':
			i = s.skipSpace(i + 1)
		case ']':
			return i+1 == len(s.b)
		default:
			return false
		}
	}
}
