package calendar

import (
	"time"
)

// maxFormattableUsec mirrors systemd's USEC_TIMESTAMP_FORMATTABLE_MAX (the
// end of year 9999): bases beyond it have no next elapse.
const maxFormattableUsec = 253402214399 * usecPerSec

// maxIterations is systemd's MAX_CALENDAR_ITERATIONS: a search that has not
// settled after this many steps gives up (systemd logs "Infinite loop in
// calendar calculation" and fails with EDEADLK).
const maxIterations = 1000

// Next returns the earliest elapse strictly after t, computed the way
// systemd computes it, and false when the event never elapses again. Like
// systemd's, the search ends at year 2199 and gives up (false) after 1000
// steps, so the cost of a call is bounded whatever the expression.
func (e *Event) Next(t time.Time) (time.Time, bool) {
	usec := t.Unix()*usecPerSec + int64(t.Nanosecond()/1000)
	if usec > maxFormattableUsec {
		return time.Time{}, false
	}
	if usec < 0 {
		// systemd's clock starts at the epoch.
		usec = -1
	}
	usec++
	c := e.clock()
	sec := usec / usecPerSec
	if !c.utc {
		c.cached, _ = c.offsetAt(sec)
	}
	tmv := c.localtime(sec)
	tmUsec := int(usec % usecPerSec)
	if !e.findNext(c, &tmv, &tmUsec) {
		return time.Time{}, false
	}
	s := c.mktime(&tmv)
	if s*usecPerSec+int64(tmUsec) < usec {
		return time.Time{}, false
	}
	return time.Unix(s, int64(tmUsec)*1000).In(e.Location()), true
}

func (e *Event) findEndOfMonth(c *clock, t *tm, day int) int {
	x := *t
	x.mon++
	x.mday = 1 - day
	c.mktime(&x)
	if x.mon != t.mon {
		return -1
	}
	return x.mday
}

// findMatching mirrors find_matching_component: it moves *val to the next
// value the chain allows and reports 1 if it changed, 0 if it already
// matched and -1 if nothing matches.
func (e *Event) findMatching(c *clock, chain []component, isDay bool, t *tm, val *int) int {
	if chain == nil {
		return 0
	}
	d, dSet := -1, false
	for _, x := range chain {
		start, stop := x.start, x.stop
		if e.endOfMonth && isDay {
			start = e.findEndOfMonth(c, t, start)
			stop = e.findEndOfMonth(c, t, stop)
			if stop > 0 {
				start, stop = stop, start
			}
		}
		if start >= *val {
			if !dSet || start < d {
				d, dSet = start, true
			}
		} else if x.repeat > 0 {
			k := start + x.repeat*((*val-start+x.repeat-1)/x.repeat)
			if (!dSet || k < d) && (stop < 0 || k <= stop) {
				d, dSet = k, true
			}
		}
	}
	if !dSet {
		return -1
	}
	r := 0
	if *val != d {
		r = 1
	}
	*val = d
	return r
}

// withinBounds mirrors tm_within_bounds: it returns 1 when t is a real
// time, 0 when mktime had to normalize t forward (t is then replaced, with
// the unit below the first changed one reset), and -1 when t lies past the
// last year or normalizing would move it backward.
func (c *clock) withinBounds(t *tm) int {
	if t.year > maxYear {
		return -1
	}
	x := *t
	c.mktime(&x)
	cmp := 0
	switch {
	case x.year != t.year:
		cmp = sign(x.year - t.year)
		x.mon = 0
	case x.mon != t.mon:
		cmp = sign(x.mon - t.mon)
		x.mday = 1
	case x.mday != t.mday:
		cmp = sign(x.mday - t.mday)
		x.hour = 0
	case x.hour != t.hour:
		cmp = sign(x.hour - t.hour)
		x.min = 0
	case x.min != t.min:
		cmp = sign(x.min - t.min)
		x.sec = 0
	default:
		cmp = sign(x.sec - t.sec)
	}
	switch {
	case cmp < 0:
		return -1
	case cmp > 0:
		*t = x
		return 0
	}
	return 1
}

func sign(v int) int {
	switch {
	case v < 0:
		return -1
	case v > 0:
		return 1
	}
	return 0
}

func (e *Event) matchesWeekday(c *clock, t *tm) bool {
	if e.weekdays < 0 || e.weekdays >= bitsWeekdays {
		return true
	}
	x := *t
	c.mktime(&x)
	k := x.wday - 1
	if x.wday == 0 {
		k = 6
	}
	return e.weekdays&(1<<k) != 0
}

// findNext mirrors systemd's find_next.
func (e *Event) findNext(c *clock, t *tm, usec *int) bool {
	x := *t
	tmUsec := *usec
	resetFrom := func(level int) {
		// level 0: month onwards, 1: mday onwards, 2: hour onwards, 3: min, 4: sec
		if level <= 0 {
			x.mon = 0
		}
		if level <= 1 {
			x.mday = 1
		}
		if level <= 2 {
			x.hour = 0
		}
		if level <= 3 {
			x.min = 0
		}
		x.sec, tmUsec = 0, 0
	}
	for i := 0; i < maxIterations; i++ {
		c.mktime(&x)
		x.isdst = e.dst

		r := e.findMatching(c, e.year, false, &x, &x.year)
		if r > 0 {
			resetFrom(0)
		}
		if r < 0 {
			return false
		}
		if c.withinBounds(&x) <= 0 {
			return false
		}

		mon := x.mon + 1
		r = e.findMatching(c, e.month, false, &x, &mon)
		x.mon = mon - 1
		if r > 0 {
			resetFrom(1)
		}
		if r >= 0 {
			r = c.withinBounds(&x)
		}
		if r < 0 {
			x.year++
			resetFrom(0)
			continue
		}
		if r == 0 {
			continue
		}

		r = e.findMatching(c, e.day, true, &x, &x.mday)
		if r > 0 {
			resetFrom(2)
		}
		if r >= 0 {
			r = c.withinBounds(&x)
		}
		if r < 0 {
			x.mon++
			resetFrom(1)
			continue
		}
		if r == 0 {
			continue
		}

		if !e.matchesWeekday(c, &x) {
			x.mday++
			resetFrom(2)
			continue
		}

		r = e.findMatching(c, e.hour, false, &x, &x.hour)
		if r > 0 {
			resetFrom(3)
		}
		if r >= 0 {
			r = c.withinBounds(&x)
		}
		if r < 0 {
			x.mday++
			resetFrom(2)
			continue
		}
		if r == 0 {
			continue
		}

		r = e.findMatching(c, e.minute, false, &x, &x.min)
		if r > 0 {
			resetFrom(4)
		}
		if r >= 0 {
			r = c.withinBounds(&x)
		}
		if r < 0 {
			x.hour++
			resetFrom(3)
			continue
		}
		if r == 0 {
			continue
		}

		v := x.sec*usecPerSec + tmUsec
		r = e.findMatching(c, e.sec, false, &x, &v)
		tmUsec = v % usecPerSec
		x.sec = v / usecPerSec
		if r >= 0 {
			r = c.withinBounds(&x)
		}
		if r < 0 {
			x.min++
			resetFrom(4)
			continue
		}
		if r == 0 {
			continue
		}
		*t = x
		*usec = tmUsec
		return true
	}
	return false
}
