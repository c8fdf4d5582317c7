package main

import (
	"strconv"
	"strings"
	"unicode"
)

// escapeText makes a value from the API (an id, a method, an error, a
// handler's output) safe for a terminal: control characters (ESC, CR,
// newline, ...) and invalid UTF-8 are shown as Go escapes ("\x1b", "\n"),
// so they can neither drive the terminal nor forge table rows. --json
// output is left as it is: encoding/json escapes them itself.
func escapeText(s string) string {
	clean := true
	for _, r := range s {
		if unicode.IsControl(r) || r == unicode.ReplacementChar || r == '\u2028' || r == '\u2029' {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == unicode.ReplacementChar && !strings.HasPrefix(s[i:], "\uFFFD"):
			b.WriteString(`\x` + strconv.FormatUint(uint64(s[i]), 16))
		case unicode.IsControl(r) || r == '\u2028' || r == '\u2029':
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// escapeLines is escapeText for multi-line output (a handler's stdout):
// newlines and tabs stay, each line is escaped.
func escapeLines(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		parts := strings.Split(strings.TrimSuffix(l, "\r"), "\t")
		for j, p := range parts {
			parts[j] = escapeText(p)
		}
		lines[i] = strings.Join(parts, "\t")
	}
	return strings.Join(lines, "\n")
}

// shellQuote makes s safe to paste into a shell in a printed hint
// ("see: schedulezero history --schedule ID"): bare when it is made of
// safe characters, else single-quoted, and escaped for the terminal.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("-_.,:/@%+=", r)))
	}) < 0 {
		return s
	}
	return escapeText("'" + strings.ReplaceAll(s, "'", `'\''`) + "'")
}
