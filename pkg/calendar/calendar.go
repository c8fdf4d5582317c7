package calendar

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Event is a parsed calendar event. It is immutable and safe for concurrent
// use. *Event satisfies the trigger package's Trigger interface.
type Event struct {
	weekdays   int // bit 0 is Monday; -1 means every day
	year       []component
	month      []component
	day        []component
	hour       []component
	minute     []component
	sec        []component // microseconds
	endOfMonth bool
	utc        bool
	dst        int    // -1, or 0/1 when the expression named loc's standard or DST abbreviation
	zone       string // zone named in the expression
	zoneLoc    *time.Location
	loc        *time.Location // zone used when the expression names none
}

// Location returns the time zone the event is evaluated in.
func (e *Event) Location() *time.Location {
	switch {
	case e.utc:
		return time.UTC
	case e.zoneLoc != nil:
		return e.zoneLoc
	}
	return e.loc
}

func (e *Event) normalize() {
	if e.zone == "UTC" {
		e.utc = true
		e.zone, e.zoneLoc = "", nil
	}
	if e.weekdays <= 0 || e.weekdays >= bitsWeekdays {
		e.weekdays = -1
	}
	if e.endOfMonth && e.day == nil {
		e.endOfMonth = false
	}
	for i := range e.year {
		c := &e.year[i]
		c.start = fixYear(c.start)
		c.stop = fixYear(c.stop)
	}
	for _, ch := range []*[]component{&e.year, &e.month, &e.day, &e.hour, &e.minute, &e.sec} {
		*ch = normalizeChain(*ch)
	}
}

func fixYear(v int) int {
	switch {
	case v >= 0 && v < 70:
		return v + 2000
	case v >= 70 && v < 100:
		return v + 1900
	}
	return v
}

func normalizeChain(c []component) []component {
	for i := range c {
		if c[i].stop > c[i].start && c[i].repeat > 0 {
			c[i].stop -= (c[i].stop - c[i].start) % c[i].repeat
		}
		// A repetition that cannot fire twice, or a range of one value,
		// is a plain value.
		if c[i].stop > c[i].start && c[i].repeat > 0 && c[i].start+c[i].repeat > c[i].stop || c[i].start == c[i].stop {
			c[i].stop, c[i].repeat = -1, 0
		}
	}
	if len(c) <= 1 {
		return c
	}
	sort.Slice(c, func(i, j int) bool {
		a, b := c[i], c[j]
		if a.start != b.start {
			return a.start < b.start
		}
		if a.stop != b.stop {
			return a.stop < b.stop
		}
		return a.repeat < b.repeat
	})
	out := c[:1]
	for _, x := range c[1:] {
		if x != out[len(out)-1] {
			out = append(out, x)
		}
	}
	return out
}

func (e *Event) validate() *parseError {
	if e.weekdays > bitsWeekdays {
		return perr("", "invalid weekdays")
	}
	checks := []struct {
		name     string
		c        []component
		from, to int
		eom      bool
		fix      string
	}{
		{"year", e.year, minYear, maxYear, false, "years range from 1970 to 2199"},
		{"month", e.month, 1, 12, false, "months range from 1 to 12"},
		{"day", e.day, 1, 31, e.endOfMonth, "days range from 1 to 31, or 1 to 28 after \"~\""},
		{"hour", e.hour, 0, 23, false, "hours range from 0 to 23"},
		{"minute", e.minute, 0, 59, false, "minutes range from 0 to 59"},
		{"second", e.sec, 0, 60*usecPerSec - 1, false, "seconds range from 0 to 59.999999"},
	}
	for _, ck := range checks {
		if !chainValid(ck.c, ck.from, ck.to, ck.eom) {
			return perr(ck.fix+`; a repetition must fit at least twice into its range, e.g. "00/15"`,
				"%s value, range or repetition out of bounds", ck.name)
		}
	}
	return nil
}

func chainValid(c []component, from, to int, eom bool) bool {
	for _, x := range c {
		// systemd's chain_valid recurses with the already reduced upper
		// bound, so each further "~" element loses three more days.
		if eom {
			to -= 3
		}
		if x.start < from || x.start > to {
			return false
		}
		if x.repeat > to-from {
			return false
		}
		if x.stop >= 0 {
			if x.stop < from || x.stop > to {
				return false
			}
			if x.start+x.repeat > x.stop {
				return false
			}
		} else {
			if eom && x.start-x.repeat < from {
				return false
			}
			if !eom && x.start+x.repeat > to {
				return false
			}
		}
	}
	return true
}

var weekdayNames = [7]string{"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"}

// String returns systemd's normalized form of the expression, exactly as
// `systemd-analyze calendar` prints it.
func (e *Event) String() string {
	var b strings.Builder
	if e.weekdays > 0 && e.weekdays <= bitsWeekdays {
		formatWeekdays(&b, e.weekdays)
		b.WriteByte(' ')
	}
	formatChain(&b, 4, e.year, false)
	b.WriteByte('-')
	formatChain(&b, 2, e.month, false)
	if e.endOfMonth {
		b.WriteByte('~')
	} else {
		b.WriteByte('-')
	}
	formatChain(&b, 2, e.day, false)
	b.WriteByte(' ')
	formatChain(&b, 2, e.hour, false)
	b.WriteByte(':')
	formatChain(&b, 2, e.minute, false)
	b.WriteByte(':')
	formatChain(&b, 2, e.sec, true)
	switch {
	case e.utc:
		b.WriteString(" UTC")
	case e.zone != "":
		b.WriteString(" " + e.zone)
	case e.dst == 0 || e.dst == 1:
		if n := tzNames(e.loc)[e.dst]; n != "" {
			b.WriteString(" " + n)
		}
	}
	return b.String()
}

func formatWeekdays(b *strings.Builder, bits int) {
	l := -1
	comma := false
	x := 0
	for ; x < 7; x++ {
		if bits&(1<<x) != 0 {
			if l < 0 {
				if comma {
					b.WriteByte(',')
				}
				comma = true
				b.WriteString(weekdayNames[x])
				l = x
			}
		} else if l >= 0 {
			if x > l+1 {
				if x > l+2 {
					b.WriteString("..")
				} else {
					b.WriteByte(',')
				}
				b.WriteString(weekdayNames[x-1])
			}
			l = -1
		}
	}
	if l >= 0 && x > l+1 {
		if x > l+2 {
			b.WriteString("..")
		} else {
			b.WriteByte(',')
		}
		b.WriteString(weekdayNames[x-1])
	}
}

func formatChain(b *strings.Builder, width int, c []component, usec bool) {
	d := 1
	if usec {
		d = usecPerSec
	}
	if len(c) == 0 {
		b.WriteByte('*')
		return
	}
	if usec && len(c) == 1 && c[0].start == 0 && c[0].repeat == usecPerSec && c[0].stop < 0 {
		b.WriteByte('*')
		return
	}
	for i, x := range c {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(b, "%0*d", width, x.start/d)
		if x.start%d > 0 {
			fmt.Fprintf(b, ".%06d", x.start%d)
		}
		if x.stop > 0 {
			fmt.Fprintf(b, "..%0*d", width, x.stop/d)
		}
		if x.stop%d > 0 {
			fmt.Fprintf(b, ".%06d", x.stop%d)
		}
		if x.repeat > 0 && !(x.stop > 0 && x.repeat == d) {
			fmt.Fprintf(b, "/%d", x.repeat/d)
		}
		if x.repeat%d > 0 {
			fmt.Fprintf(b, ".%06d", x.repeat%d)
		}
	}
}

// WallIn returns a copy of the event evaluated in loc, whatever zone its
// expression names. The trigger package uses it to ask which wall times of
// a skipped (spring-forward) hour the event matches.
func (e *Event) WallIn(loc *time.Location) *Event {
	c := *e
	c.utc, c.zone, c.zoneLoc, c.dst, c.loc = false, "", nil, -1, loc
	return &c
}
