package schedfile

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/coreos/go-systemd/v22/unit"
)

// Section is the section of a schedule file that holds its keys.
const Section = "Schedule"

// option is one assignment, with where it was written.
type option struct {
	Key, Value string
	File       string
	Line       int
}

// parseFile reads the assignments of one file with go-systemd's parser.
// The parser gives no line numbers, so optionLines finds them: it walks
// the lines the same way, and the n-th assignment it sees is the parser's
// n-th option.
func parseFile(name string, data []byte) ([]option, *Error) {
	lines := optionLines(data)
	opts, err := unit.DeserializeOptions(bytes.NewReader(data))
	if err != nil {
		return nil, &Error{File: name, Line: badLine(data), Problem: err.Error(),
			Fix: "write one Key=value a line, under a [Schedule] section; see docs/scheduling.md"}
	}
	if len(opts) != len(lines) {
		// The two walks disagree only on input the parser takes in a way
		// we do not expect; keep the options, without lines.
		lines = make([]int, len(opts))
	}
	out := make([]option, 0, len(opts))
	for i, o := range opts {
		v := strings.ReplaceAll(o.Value, "\\\n", " ") // continuation lines join with a space, as in systemd
		if o.Section != Section {
			if strings.HasPrefix(o.Section, "X-") {
				continue
			}
			return nil, &Error{File: name, Line: lines[i], Key: o.Name,
				Problem: fmt.Sprintf("is in section [%s]", o.Section), Fix: "put the keys under [" + Section + "]"}
		}
		out = append(out, option{Key: o.Name, Value: strings.TrimSpace(v), File: name, Line: lines[i]})
	}
	return out, nil
}

// optionLines returns the 1-based line of each assignment in data, in
// order: a line that is not blank, a comment or a section header, and
// does not continue the previous one.
func optionLines(data []byte) []int {
	var out []int
	cont := false
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimRight(line, "\r")
		t := strings.TrimSpace(line)
		wasCont := cont
		cont = strings.HasSuffix(strings.TrimRight(line, " "), "\\")
		if wasCont {
			if t == "" {
				cont = false
			}
			continue
		}
		if t == "" || t[0] == '[' {
			cont = false
			continue
		}
		if t[0] == '#' || t[0] == ';' {
			continue // a comment continues with a backslash too
		}
		out = append(out, i+1)
	}
	return out
}

// badLine guesses the line the parser failed on: the first assignment
// without "=", else 0.
func badLine(data []byte) int {
	for i, line := range strings.Split(string(data), "\n") {
		t := strings.TrimSpace(line)
		if t != "" && t[0] != '#' && t[0] != ';' && t[0] != '[' && !strings.Contains(t, "=") {
			return i + 1
		}
		if t != "" && t[0] == '[' && !strings.Contains(t, "]") {
			return i + 1
		}
	}
	return 0
}
