// parse.go follows calendarspec.c's parser (calendar_spec_from_string and
// its helpers) function by function, so that it accepts and rejects what
// systemd does; it reads as one piece next to that file and is kept whole.

package calendar

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/schedulezero/schedulezero/pkg/field"
)

const (
	minYear        = 1970
	maxYear        = 2199
	usecPerSec     = 1_000_000
	bitsWeekdays   = 127
	maxComponents  = 240
	intMax         = math.MaxInt32
	exampleFix     = `use an expression such as "Mon..Fri *-*-* 09:00", "*-*-01 00:00:00 Europe/Berlin" or "daily"`
	exampleTimeFix = `write the time as HH:MM or HH:MM:SS, e.g. "09:30" or "*:0/15:00"`
)

// component is one element of a comma-separated chain: start, an optional
// stop (-1 when absent) and an optional repetition (0 when absent). Seconds
// are kept in microseconds.
type component struct {
	start, stop, repeat int
}

// parseError is the parser's internal failure; Parse turns it into a
// *field.Error.
type parseError struct {
	problem, fix string
}

func perr(fix, format string, args ...any) *parseError {
	return &parseError{problem: fmt.Sprintf(format, args...), fix: fix}
}

// Parse parses a calendar event expression. loc is used when the expression
// names no zone; a nil loc means time.Local.
func Parse(expr string, loc *time.Location) (*Event, error) {
	if loc == nil {
		loc = time.Local
	}
	e, pe := parse(expr, loc)
	if pe != nil {
		pe = explain(expr, pe)
		fe := field.Errorf("expr", "calendar expression %q: %s", expr, pe.problem)
		fix := pe.fix
		if fix == "" {
			fix = exampleFix
		}
		return nil, fe.WithFix("%s", fix)
	}
	return e, nil
}

// explain replaces the parser's message for common mistakes.
func explain(expr string, pe *parseError) *parseError {
	switch w := strings.ToLower(strings.TrimSpace(expr)); {
	case w == "today" || w == "now" || w == "tomorrow" || w == "yesterday":
		return perr(`for a one-off run use a date trigger; for a daily event use "daily"`,
			"%q is a point in time, not a repeating calendar event", expr)
	case strings.Contains(expr, "*/"):
		return perr(`systemd writes repetitions from a start value: "*:0/5" is every five minutes, "0/2:00" every two hours`,
			"\"*/N\" is cron syntax, not systemd calendar syntax")
	case strings.HasPrefix(pe.problem, "expected a number") && len(w) > 0 && w[0] >= 'a' && w[0] <= 'z':
		return perr(exampleFix, "unknown word %q; expected a weekday, a date, a time or a shorthand such as \"daily\"", word(expr))
	}
	return pe
}

var shorthands = map[string]func(e *Event){
	"minutely": func(e *Event) { e.sec = constChain(0) },
	"hourly":   func(e *Event) { e.minute, e.sec = constChain(0), constChain(0) },
	"daily":    func(e *Event) { e.hour, e.minute, e.sec = constChain(0), constChain(0), constChain(0) },
	"monthly": func(e *Event) {
		e.day, e.hour, e.minute, e.sec = constChain(1), constChain(0), constChain(0), constChain(0)
	},
	"weekly": func(e *Event) {
		e.weekdays = 1
		e.hour, e.minute, e.sec = constChain(0), constChain(0), constChain(0)
	},
	"yearly":   yearly,
	"annually": yearly,
	"anually":  yearly,
	"quarterly": func(e *Event) {
		e.month = []component{{1, -1, 0}, {4, -1, 0}, {7, -1, 0}, {10, -1, 0}}
		e.day, e.hour, e.minute, e.sec = constChain(1), constChain(0), constChain(0), constChain(0)
	},
	"semiannually":  semiannually,
	"semi-annually": semiannually,
	"biannually":    semiannually,
	"bi-annually":   semiannually,
}

func yearly(e *Event) {
	e.month, e.day = constChain(1), constChain(1)
	e.hour, e.minute, e.sec = constChain(0), constChain(0), constChain(0)
}

func semiannually(e *Event) {
	e.month = []component{{1, -1, 0}, {7, -1, 0}}
	e.day, e.hour, e.minute, e.sec = constChain(1), constChain(0), constChain(0), constChain(0)
}

func constChain(v int) []component { return []component{{v, -1, 0}} }

func hasSuffixFold(s, suffix string) bool {
	return len(s) >= len(suffix) && strings.EqualFold(s[len(s)-len(suffix):], suffix)
}

func parse(expr string, loc *time.Location) (*Event, *parseError) {
	e := &Event{dst: -1, loc: loc}
	p := expr
	if hasSuffixFold(p, " UTC") {
		e.utc = true
		p = p[:len(p)-4]
	} else {
		names := tzNames(loc)
		j := 0
		for ; j <= 1; j++ {
			n := names[j]
			if n == "" || !hasSuffixFold(p, n) || len(p) == len(n) || p[len(p)-len(n)-1] != ' ' {
				continue
			}
			break
		}
		if j <= 1 {
			p = p[:len(p)-len(names[j])-1]
			e.dst = j
		} else if i := strings.LastIndexByte(p, ' '); i >= 0 {
			if z, ok := loadZone(p[i+1:]); ok {
				e.zone, e.zoneLoc = p[i+1:], z
				p = p[:i]
			}
		}
	}
	if p == "" {
		return nil, perr("", "the expression is empty")
	}
	if f, ok := shorthands[strings.ToLower(p)]; ok {
		f(e)
	} else {
		ps := &parser{s: p}
		if err := ps.weekdays(e); err != nil {
			return nil, err
		}
		done, err := ps.date(e)
		if err != nil {
			return nil, err
		}
		if !done {
			if err := ps.time(e); err != nil {
				return nil, err
			}
		}
		if ps.i != len(ps.s) {
			return nil, perr("", "unexpected %q at position %d", ps.s[ps.i:], ps.i+1)
		}
	}
	e.normalize()
	if err := e.validate(); err != nil {
		return nil, err
	}
	return e, nil
}

// loadZone reports whether name is a time zone systemd would accept: a
// file of the zoneinfo database, not one of Go's special names.
func loadZone(name string) (*time.Location, bool) {
	if name == "" || name == "Local" || strings.HasPrefix(name, "/") || strings.Contains(name, "..") {
		return nil, false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/-_+", r)) {
			return nil, false
		}
	}
	z, err := time.LoadLocation(name)
	if err != nil {
		return nil, false
	}
	return z, true
}

// tzNames returns what glibc's tzname[0] and tzname[1] hold for loc: the
// abbreviations of standard and daylight saving time.
func tzNames(loc *time.Location) [2]string {
	if loc == time.UTC {
		return [2]string{"UTC", "UTC"}
	}
	var names [2]string
	y := time.Now().Year()
	for _, m := range []time.Month{time.January, time.July} {
		t := time.Date(y, m, 1, 12, 0, 0, 0, loc)
		n, _ := t.Zone()
		if t.IsDST() {
			names[1] = n
		} else {
			names[0] = n
		}
	}
	if names[1] == "" {
		names[1] = names[0]
	}
	if names[0] == "" {
		names[0] = names[1]
	}
	return names
}

type parser struct {
	s string
	i int
}

func (p *parser) peek(k int) byte {
	if p.i+k < len(p.s) {
		return p.s[p.i+k]
	}
	return 0
}

func (p *parser) skipSpaces() {
	for p.i < len(p.s) && p.s[p.i] == ' ' {
		p.i++
	}
}

var dayNames = []struct {
	name string
	nr   int
}{
	{"Monday", 0}, {"Mon", 0}, {"Tuesday", 1}, {"Tue", 1}, {"Wednesday", 2}, {"Wed", 2},
	{"Thursday", 3}, {"Thu", 3}, {"Friday", 4}, {"Fri", 4}, {"Saturday", 5}, {"Sat", 5},
	{"Sunday", 6}, {"Sun", 6},
}

const weekdayFix = `write weekdays as "Mon", "Mon,Wed", "Mon..Fri" or "Sat,Sun", followed by a space`

func (p *parser) weekdays(e *Event) *parseError {
	l := -1
	first := true
	for {
		found := -1
		for k, d := range dayNames {
			if !hasPrefixFold(p.s[p.i:], d.name) {
				continue
			}
			switch p.peek(len(d.name)) {
			case 0, '-', '.', ',', ' ':
			default:
				return perr(weekdayFix, "unknown weekday %q", word(p.s[p.i:]))
			}
			e.weekdays |= 1 << d.nr
			if l >= 0 {
				if l > d.nr {
					return perr(weekdayFix, "weekday range ends before it starts (%s)", d.name)
				}
				for j := l + 1; j < d.nr; j++ {
					e.weekdays |= 1 << j
				}
			}
			p.i += len(d.name)
			found = k
			break
		}
		if found < 0 {
			if first {
				return nil
			}
			return perr(weekdayFix, "expected a weekday at %q", p.s[p.i:])
		}
		switch p.peek(0) {
		case 0:
			return nil
		case ' ':
			p.skipSpaces()
			return nil
		case '.':
			if l >= 0 || p.peek(1) != '.' {
				return perr(weekdayFix, "malformed weekday range")
			}
			l = dayNames[found].nr
			p.i += 2
		case '-':
			if l >= 0 {
				return perr(weekdayFix, "malformed weekday range")
			}
			l = dayNames[found].nr
			p.i++
		case ',':
			l = -1
			p.i++
		}
		if c := p.peek(0); c == 0 || c == ' ' {
			p.skipSpaces()
			if l >= 0 {
				return perr(weekdayFix, "weekday range has no end")
			}
			return nil
		}
		first = false
	}
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

func word(s string) string {
	if i := strings.IndexAny(s, " ,.-"); i >= 0 {
		return s[:i]
	}
	return s
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// number mirrors strtoul on a string that starts with a digit.
func (p *parser) number() (uint64, *parseError) {
	start := p.i
	var v uint64
	overflow := false
	for p.i < len(p.s) && isDigit(p.s[p.i]) {
		d := uint64(p.s[p.i] - '0')
		if v > (math.MaxUint64-d)/10 {
			overflow = true
		}
		v = v*10 + d
		p.i++
	}
	if overflow {
		return 0, perr("", "number %s is too large", p.s[start:p.i])
	}
	return v, nil
}

func (p *parser) decimal(usec bool) (int, *parseError) {
	if !isDigit(p.peek(0)) {
		if p.peek(0) == 0 {
			return 0, perr("", "expression ends where a number was expected")
		}
		return 0, perr("", "expected a number at %q", p.s[p.i:])
	}
	v, err := p.number()
	if err != nil {
		return 0, err
	}
	if usec {
		if v > math.MaxUint64/usecPerSec {
			return 0, perr("", "seconds value is too large")
		}
		v *= usecPerSec
		if p.peek(0) == '.' && p.peek(1) != '.' {
			p.i++
			add, err := p.fraction()
			if err != nil {
				return 0, err
			}
			v += add
		}
	}
	if v > intMax {
		return 0, perr("", "number is too large")
	}
	return int(v), nil
}

// fraction mirrors systemd's parse_fractional_part_u with 6 digits.
func (p *parser) fraction() (uint64, *parseError) {
	var v uint64
	i := 0
	for ; i < 6; i++ {
		c := p.peek(0)
		if !isDigit(c) {
			if i == 0 {
				return 0, perr(exampleTimeFix, "a decimal point must be followed by digits")
			}
			for ; i < 6; i++ {
				v *= 10
			}
			break
		}
		v = v*10 + uint64(c-'0')
		p.i++
	}
	if c := p.peek(0); c >= '5' && c <= '9' {
		v++
	}
	for isDigit(p.peek(0)) {
		p.i++
	}
	return v, nil
}

func (p *parser) chain(usec bool) ([]component, *parseError) {
	if p.peek(0) == '*' {
		p.i++
		if usec {
			return []component{{0, -1, usecPerSec}}, nil
		}
		return nil, nil
	}
	var out []component
	for n := 0; ; n++ {
		if n > maxComponents {
			return nil, perr("", "too many comma-separated values (at most %d)", maxComponents)
		}
		start, err := p.decimal(usec)
		if err != nil {
			return nil, err
		}
		stop, repeat := -1, 0
		if p.peek(0) == '.' && p.peek(1) == '.' {
			p.i += 2
			if stop, err = p.decimal(usec); err != nil {
				return nil, err
			}
			repeat = 1
			if usec {
				repeat = usecPerSec
			}
		}
		if p.peek(0) == '/' {
			p.i++
			if repeat, err = p.decimal(usec); err != nil {
				return nil, err
			}
			if repeat == 0 {
				return nil, perr(`use a repetition of at least 1, e.g. "00/15"`, "repetition must not be zero")
			}
		} else if usec && stop >= 0 && start+repeat > stop {
			// systemd refuses second ranges shorter than its default
			// one-second step.
			return nil, perr(`write a range of seconds spanning at least one second, e.g. "10..20"`,
				"range of seconds ends less than one second after it starts")
		}
		switch c := p.peek(0); c {
		case 0, ' ', ',', '-', '~', ':':
		default:
			return nil, perr("", "unexpected %q at position %d", string(c), p.i+1)
		}
		out = append(out, component{start, stop, repeat})
		if p.peek(0) != ',' {
			return out, nil
		}
		p.i++
	}
}

const dateFix = `write the date as YYYY-MM-DD, MM-DD or with "~" for days counted from the month's end, e.g. "*-*-01", "2030-01..06-15", "*-02~01"`

func (p *parser) date(e *Event) (bool, *parseError) {
	if p.peek(0) == 0 {
		return false, nil
	}
	if p.peek(0) == '@' {
		return true, p.timestamp(e)
	}
	save := p.i
	first, err := p.chain(false)
	if err != nil {
		return false, err
	}
	if c := p.peek(0); c == 0 || c == ':' {
		p.i = save
		return false, nil
	}
	switch p.peek(0) {
	case '~':
		e.endOfMonth = true
	case '-':
	default:
		return false, perr(dateFix, "malformed date at %q", p.s[save:])
	}
	p.i++
	second, err := p.chain(false)
	if err != nil {
		return false, err
	}
	if c := p.peek(0); c == 0 || c == ' ' {
		p.skipSpaces()
		e.month, e.day = first, second
		return false, nil
	} else if e.endOfMonth {
		return false, perr(dateFix, "\"~\" may only separate the month from the day")
	}
	switch p.peek(0) {
	case '~':
		e.endOfMonth = true
	case '-':
	default:
		return false, perr(dateFix, "malformed date at %q", p.s[save:])
	}
	p.i++
	third, err := p.chain(false)
	if err != nil {
		return false, err
	}
	if c := p.peek(0); c != 0 && c != ' ' {
		return false, perr(dateFix, "unexpected %q after the date", p.s[p.i:])
	}
	p.skipSpaces()
	e.year, e.month, e.day = first, second, third
	return false, nil
}

// timestamp parses "@SECONDS" the way strtoul does after the "@".
func (p *parser) timestamp(e *Event) *parseError {
	p.i++
	for p.i < len(p.s) && strings.IndexByte(" \t\n\v\f\r", p.s[p.i]) >= 0 {
		p.i++
	}
	neg := false
	if c := p.peek(0); c == '+' || c == '-' {
		neg = c == '-'
		p.i++
	}
	if !isDigit(p.peek(0)) {
		return perr(`write a UNIX time as "@1700000000"`, "\"@\" must be followed by seconds since the epoch")
	}
	v, err := p.number()
	if err != nil {
		return err
	}
	if neg {
		v = -v
	}
	sec := int64(v)
	if sec < 0 {
		return perr("", "timestamp lies before 1970")
	}
	if sec > 1<<40 {
		return perr("", "timestamp lies after %d", maxYear)
	}
	t := time.Unix(sec, 0).UTC()
	e.utc = true
	e.year, e.month, e.day = constChain(t.Year()), constChain(int(t.Month())), constChain(t.Day())
	e.hour, e.minute, e.sec = constChain(t.Hour()), constChain(t.Minute()), constChain(t.Second()*usecPerSec)
	return nil
}

func (p *parser) time(e *Event) *parseError {
	if p.peek(0) == 0 {
		e.hour, e.minute, e.sec = constChain(0), constChain(0), constChain(0)
		return nil
	}
	h, err := p.chain(false)
	if err != nil {
		return err
	}
	if p.peek(0) != ':' {
		return perr(exampleTimeFix, "malformed time at %q", p.s[p.i:])
	}
	p.i++
	m, err := p.chain(false)
	if err != nil {
		return err
	}
	s := constChain(0)
	if p.peek(0) != 0 {
		if p.peek(0) != ':' {
			return perr(exampleTimeFix, "malformed time at %q", p.s[p.i:])
		}
		p.i++
		if s, err = p.chain(true); err != nil {
			return err
		}
		if p.peek(0) != 0 {
			return perr(exampleTimeFix+`; a time zone goes last, e.g. "Europe/Berlin"`, "unexpected %q after the time", p.s[p.i:])
		}
	}
	e.hour, e.minute, e.sec = h, m, s
	return nil
}
