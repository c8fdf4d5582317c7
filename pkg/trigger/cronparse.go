package trigger

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/schedulezero/schedulezero/pkg/field"
)

const allWeeks = uint64(1<<54-1) &^ 1 // ISO weeks 1-53

// unit describes one cron field: its range and the names it accepts.
type unit struct {
	label    string
	min, max int
	names    map[string]int
}

var (
	monthNames = map[string]int{"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
		"jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12}
	// APScheduler numbers weekdays from Monday = 0.
	apsWeekdays = map[string]int{"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}
	// crontab numbers weekdays from Sunday = 0 (7 is Sunday too).
	cronWeekdays = map[string]int{"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}
	nthNames     = map[string]int{"1st": 1, "2nd": 2, "3rd": 3, "4th": 4, "5th": 5}

	unitSecond  = unit{label: "second", max: 59}
	unitMinute  = unit{label: "minute", max: 59}
	unitHour    = unit{label: "hour", max: 23}
	unitDay     = unit{label: "day", min: 1, max: 31}
	unitMonth   = unit{label: "month", min: 1, max: 12, names: monthNames}
	unitWeek    = unit{label: "week", min: 1, max: 53}
	unitYear    = unit{label: "year", min: 1970, max: maxYear}
	unitApsDow  = unit{label: "day_of_week", max: 6, names: apsWeekdays}
	unitCronDow = unit{label: "day-of-week", max: 7, names: cronWeekdays}
)

// parseRange parses one list element: "*", "*/n", "a", "a-b", "a-b/n" or
// "a/n" (a to the maximum in steps of n).
func parseRange(u unit, s string) (first, last, step int, err error) {
	rng, stepStr, hasStep := strings.Cut(s, "/")
	step = 1
	if hasStep {
		step, err = strconv.Atoi(stepStr)
		if err != nil || step <= 0 {
			return 0, 0, 0, fmt.Errorf("%s %q: step must be a positive integer", u.label, s)
		}
		// A step longer than the field selects only the first value; capping
		// it keeps the arithmetic below from overflowing.
		step = min(step, u.max-u.min+1)
	}
	if rng == "*" || rng == "?" {
		return u.min, u.max, step, nil
	}
	lo, hi, isRange := strings.Cut(rng, "-")
	if first, err = u.value(lo); err != nil {
		return 0, 0, 0, err
	}
	switch {
	case isRange:
		if last, err = u.value(hi); err != nil {
			return 0, 0, 0, err
		}
		if u.label == "day-of-week" && last == 0 && first > 0 {
			last = 7 // "fri-sun"
		}
		if last < first {
			return 0, 0, 0, fmt.Errorf("%s %q: range start is after its end", u.label, s)
		}
	case hasStep:
		last = u.max
	default:
		last = first
	}
	return first, last, step, nil
}

func (u unit) value(s string) (int, error) {
	if v, ok := u.names[s]; ok {
		return v, nil
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < u.min || v > u.max {
		return 0, fmt.Errorf("%s %q: want a number %d-%d%s", u.label, s, u.min, u.max, u.nameHint())
	}
	return v, nil
}

func (u unit) nameHint() string {
	switch len(u.names) {
	case 12:
		return " or a month name (jan-dec)"
	case 7:
		return " or a weekday name (mon-sun)"
	}
	return ""
}

// parseBits parses a comma-separated list into a bit set.
func parseBits(u unit, s string) (uint64, error) {
	var b uint64
	for _, e := range strings.Split(s, ",") {
		first, last, step, err := parseRange(u, strings.TrimSpace(e))
		if err != nil {
			return 0, err
		}
		for v := first; v <= last; v += step {
			b |= 1 << v
		}
	}
	return b, nil
}

// apsFieldOrder lists the field form's keys from most to least significant.
var apsFieldOrder = []string{"year", "month", "day", "week", "day_of_week", "hour", "minute", "second"}

var apsDefaults = map[string]string{"year": "*", "month": "1", "day": "1", "week": "*",
	"day_of_week": "*", "hour": "0", "minute": "0", "second": "0"}

// compileFields builds a Cron from the APScheduler field form. given maps
// keys to their string values; fields after the least significant given
// field take their minimum, fields before it are "*".
func compileFields(given map[string]string, loc *time.Location) (*Cron, error) {
	lastGiven := -1
	for i, name := range apsFieldOrder {
		if _, ok := given[name]; ok {
			lastGiven = i
		}
	}
	c := &Cron{loc: loc}
	for i, name := range apsFieldOrder {
		v, ok := given[name]
		if !ok {
			v = "*"
			if i > lastGiven && lastGiven >= 0 {
				v = apsDefaults[name]
			}
		}
		if strings.TrimSpace(v) == "" {
			return nil, field.Errorf(name, "empty expression").WithFix("use \"*\" for every value")
		}
		if err := c.setApsField(name, v); err != nil {
			return nil, field.Errorf(name, "%v", err).WithFix("%s", apsFix(name))
		}
	}
	return c.finish(), nil
}

func apsFix(name string) string {
	switch name {
	case "day":
		return "use 1-31, \"last\", \"last fri\" or \"2nd mon\", with ranges, steps and lists"
	case "day_of_week":
		return "use 0-6 (0 = mon) or mon-sun, with ranges, steps and lists"
	}
	return "use a number, \"*\", \"*/n\", \"a-b\", \"a-b/n\" or a comma list"
}

func (c *Cron) setApsField(name, v string) error {
	var err error
	switch name {
	case "year":
		c.years, err = parseYears(v)
	case "month":
		var b uint64
		b, err = parseBits(unitMonth, v)
		c.months = uint16(b)
	case "day":
		c.dom, err = parseApsDay(v)
	case "week":
		c.weeks, err = parseBits(unitWeek, v)
		if v == "*" {
			c.weeks = allWeeks
		}
	case "day_of_week":
		var b uint64
		b, err = parseBits(unitApsDow, v)
		c.dow.star = v == "*"
		for i := range 7 {
			if b&(1<<i) != 0 {
				c.dow.weekdays |= 1 << ((i + 1) % 7)
			}
		}
	case "hour":
		c.hours, err = parseBits(unitHour, v)
	case "minute":
		c.minutes, err = parseBits(unitMinute, v)
	case "second":
		c.seconds, err = parseBits(unitSecond, v)
	}
	return err
}

func parseYears(v string) ([]yearRange, error) {
	if v == "*" {
		return nil, nil
	}
	var rs []yearRange
	for _, e := range strings.Split(v, ",") {
		first, last, step, err := parseRange(unitYear, strings.TrimSpace(e))
		if err != nil {
			return nil, err
		}
		rs = append(rs, yearRange{first, last, step})
	}
	return rs, nil
}

func parseApsDay(v string) (daySet, error) {
	var s daySet
	if v == "*" {
		s.star = true
		return s, nil
	}
	for _, e := range strings.Split(v, ",") {
		e = strings.TrimSpace(e)
		words := strings.Fields(e)
		switch {
		case e == "last":
			s.last = true
		case len(words) == 2:
			wd, ok := apsWeekdays[words[1]]
			if !ok {
				return s, fmt.Errorf("day %q: %q is not a weekday name (mon-sun)", e, words[1])
			}
			wd = (wd + 1) % 7
			if words[0] == "last" {
				s.lastOf |= 1 << wd
			} else if n, ok := nthNames[words[0]]; ok {
				s.nth[wd] |= 1 << n
			} else {
				return s, fmt.Errorf("day %q: want 1st, 2nd, 3rd, 4th, 5th or last before the weekday", e)
			}
		default:
			first, last, step, err := parseRange(unitDay, e)
			if err != nil {
				return s, err
			}
			for d := first; d <= last; d += step {
				s.days |= 1 << d
			}
		}
	}
	return s, nil
}

// ParseCrontab compiles a crontab expression: five fields (minute hour
// day-of-month month day-of-week) or six (second first), a descriptor such
// as @daily, and an optional leading CRON_TZ=Zone or TZ=Zone. loc is used
// when the expression names no zone. "@every" is not a Cron; Parse accepts
// it and returns an Interval. Errors are *field.Error for the field "expr".
func ParseCrontab(expr string, loc *time.Location) (*Cron, error) {
	return parseCrontab("expr", expr, loc)
}

var descriptors = map[string]string{
	"@yearly": "0 0 0 1 1 *", "@annually": "0 0 0 1 1 *", "@monthly": "0 0 0 1 * *",
	"@weekly": "0 0 0 * * 0", "@daily": "0 0 0 * * *", "@midnight": "0 0 0 * * *",
	"@hourly": "0 0 * * * *",
}

// splitTZ removes a leading CRON_TZ= or TZ= prefix and returns the zone name.
func splitTZ(expr string) (zone, rest string) {
	expr = strings.TrimSpace(expr)
	for _, p := range []string{"CRON_TZ=", "TZ="} {
		if strings.HasPrefix(expr, p) {
			z, r, _ := strings.Cut(expr[len(p):], " ")
			return z, strings.TrimSpace(r)
		}
	}
	return "", expr
}

func parseCrontab(key, expr string, loc *time.Location) (*Cron, error) {
	zone, rest := splitTZ(expr)
	if zone != "" {
		l, err := time.LoadLocation(zone)
		if err != nil {
			return nil, field.Errorf(key, "unknown time zone %q", zone).WithFix("use an IANA zone name such as Europe/Berlin")
		}
		loc = l
	}
	fix := "use 5 fields (minute hour day-of-month month day-of-week), 6 (second first) or a descriptor such as @daily"
	rest = strings.ToLower(rest)
	if strings.HasPrefix(rest, "@") {
		if strings.HasPrefix(rest, "@every") {
			return nil, field.Errorf(key, "@every is an interval, not a cron schedule").WithFix("pass it to Parse as a trigger object")
		}
		d, ok := descriptors[rest]
		if !ok {
			return nil, field.Errorf(key, "unknown descriptor %q", rest).WithFix("%s", fix)
		}
		rest = d
	}
	fs := strings.Fields(rest)
	switch len(fs) {
	case 5:
		fs = append([]string{"0"}, fs...)
	case 6:
	default:
		return nil, field.Errorf(key, "crontab %q has %d fields", expr, len(fs)).WithFix("%s", fix)
	}
	c := &Cron{loc: loc, weeks: allWeeks}
	var err error
	if c.seconds, err = parseBits(unitSecond, fs[0]); err == nil {
		if c.minutes, err = parseBits(unitMinute, fs[1]); err == nil {
			if c.hours, err = parseBits(unitHour, fs[2]); err == nil {
				if c.dom, err = parseCronDom(fs[3]); err == nil {
					var b uint64
					if b, err = parseBits(unitMonth, fs[4]); err == nil {
						c.months = uint16(b)
						c.dow, err = parseCronDow(fs[5])
					}
				}
			}
		}
	}
	if err != nil {
		return nil, field.Errorf(key, "%v", err).WithFix("%s", fix)
	}
	starred := func(s string) bool { return strings.HasPrefix(s, "*") || strings.HasPrefix(s, "?") }
	c.either = !starred(fs[3]) && !starred(fs[5])
	return c.finish(), nil
}

func parseCronDom(v string) (daySet, error) {
	var s daySet
	if v == "*" || v == "?" {
		s.star = true
		return s, nil
	}
	for _, e := range strings.Split(v, ",") {
		switch {
		case e == "l":
			s.last = true
		case e == "lw" || e == "wl":
			s.lastWeekday = true
		case strings.HasSuffix(e, "w"):
			d, err := unitDay.value(strings.TrimSuffix(e, "w"))
			if err != nil {
				return s, fmt.Errorf("day-of-month %q: want nW with n 1-31", e)
			}
			s.nearest |= 1 << d
		default:
			first, last, step, err := parseRange(unitDay, e)
			if err != nil {
				return s, err
			}
			for d := first; d <= last; d += step {
				s.days |= 1 << d
			}
		}
	}
	return s, nil
}

func parseCronDow(v string) (daySet, error) {
	var s daySet
	if v == "*" || v == "?" {
		s.star = true
		return s, nil
	}
	for _, e := range strings.Split(v, ",") {
		if wdStr, nStr, ok := strings.Cut(e, "#"); ok {
			wd, err := unitCronDow.value(wdStr)
			n, nerr := strconv.Atoi(nStr)
			if err != nil || nerr != nil || n < 1 || n > 5 {
				return s, fmt.Errorf("day-of-week %q: want weekday#n with n 1-5", e)
			}
			s.nth[wd%7] |= 1 << n
			continue
		}
		if strings.HasSuffix(e, "l") && len(e) > 1 {
			wd, err := unitCronDow.value(strings.TrimSuffix(e, "l"))
			if err != nil {
				return s, fmt.Errorf("day-of-week %q: want weekdayL, as in 5L for the last friday", e)
			}
			s.lastOf |= 1 << (wd % 7)
			continue
		}
		first, last, step, err := parseRange(unitCronDow, e)
		if err != nil {
			return s, err
		}
		for d := first; d <= last; d += step {
			s.weekdays |= 1 << (d % 7)
		}
	}
	return s, nil
}
