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

// tm is C's struct tm as calendarspec.c uses it: fields may hold
// out-of-range values until mktime normalizes them.
type tm struct {
	year, mon, mday, hour, min, sec int // year is the full year, mon is 0-11
	isdst                           int
	wday                            int // 0 is Sunday
}

// clock evaluates broken-down times in one zone the way glibc's mktime and
// localtime do. It carries mktime's cached offset, which glibc uses to
// resolve wall times that occur twice.
type clock struct {
	utc    bool
	loc    *time.Location
	cached int // seconds east of UTC of the last mktime result
}

func (c *clock) localtime(sec int64) tm {
	var t time.Time
	if c.utc {
		t = time.Unix(sec, 0).UTC()
	} else {
		t = time.Unix(sec, 0).In(c.loc)
	}
	r := tm{year: t.Year(), mon: int(t.Month()) - 1, mday: t.Day(), hour: t.Hour(), min: t.Minute(), sec: t.Second(), wday: int(t.Weekday())}
	if !c.utc && t.IsDST() {
		r.isdst = 1
	}
	return r
}

func (c *clock) offsetAt(sec int64) (int, bool) {
	t := time.Unix(sec, 0).In(c.loc)
	_, off := t.Zone()
	return off, t.IsDST()
}

// mktime normalizes t in place and returns the instant, mirroring glibc's
// mktime (or timegm for UTC events).
func (c *clock) mktime(t *tm) int64 {
	wall := time.Date(t.year, time.Month(t.mon+1), t.mday, t.hour, t.min, t.sec, 0, time.UTC).Unix()
	if c.utc {
		*t = c.localtime(wall)
		return wall
	}
	off := c.resolve(wall, t.isdst)
	c.cached = off
	sec := wall - int64(off)
	*t = c.localtime(sec)
	return sec
}

// resolve finds the UTC offset glibc's mktime applies to wall-clock seconds
// wall with the tm_isdst hint isdst.
func (c *clock) resolve(wall int64, isdst int) int {
	// Offsets that could apply: those in force up to 14 hours around.
	var cands []int
	for _, probe := range []int64{wall - 2*86400, wall - 50400, wall, wall + 50400, wall + 2*86400} {
		o, _ := c.offsetAt(probe)
		dup := false
		for _, x := range cands {
			dup = dup || x == o
		}
		if !dup {
			cands = append(cands, o)
		}
	}
	type sol struct {
		off int
		dst bool
	}
	var sols []sol
	for _, o := range cands {
		if got, dst := c.offsetAt(wall - int64(o)); got == o {
			sols = append(sols, sol{o, dst})
		}
	}
	var off int
	var dst bool
	switch {
	case len(sols) == 1:
		off, dst = sols[0].off, sols[0].dst
	case len(sols) > 1:
		// Ambiguous: glibc starts from its cached offset and keeps the
		// first match; with a hint it prefers the matching isdst.
		off, dst = sols[0].off, sols[0].dst
		if sols[1].off > off {
			off, dst = sols[1].off, sols[1].dst // earlier instant first
		}
		for _, s := range sols {
			if isdst < 0 && s.off == c.cached {
				off, dst = s.off, s.dst
			}
		}
		for _, s := range sols {
			if isdst >= 0 && s.dst == (isdst > 0) {
				return s.off
			}
		}
	default:
		// In a gap: the wall time is read with the offset in force before
		// the transition, so it moves forward by the gap's size (02:30
		// becomes 03:30 when clocks spring forward at 02:00). This is what
		// systemd ends up with in zones whose DST flag is set in summer.
		before, _ := c.offsetAt(wall - 50400 - 86400)
		if len(cands) >= 2 {
			before = cands[0]
		}
		return before
	}
	if isdst >= 0 && dst != (isdst > 0) {
		// The hint contradicts the zone: glibc uses the offset of the
		// nearest instant whose isdst matches the hint.
		if o, ok := c.nearestOffset(wall-int64(off), isdst > 0); ok {
			return o
		}
	}
	return off
}

// nearestOffset returns the UTC offset of the zone period nearest to sec
// (within about six months, as glibc searches) whose DST flag is dst.
func (c *clock) nearestOffset(sec int64, dst bool) (int, bool) {
	const limit = 536454000 / 2
	t := time.Unix(sec, 0).In(c.loc)
	back, fwd := t, t
	for {
		s, _ := back.ZoneBounds()
		_, e := fwd.ZoneBounds()
		bOK := !s.IsZero() && sec-s.Unix() < limit
		fOK := !e.IsZero() && e.Unix()-sec < limit
		if !bOK && !fOK {
			return 0, false
		}
		if bOK {
			back = s.Add(-time.Second)
			if back.IsDST() == dst {
				if !fOK || sec-back.Unix() <= e.Unix()-sec {
					_, o := back.Zone()
					return o, true
				}
			}
		}
		if fOK {
			fwd = e
			if fwd.IsDST() == dst {
				_, o := fwd.Zone()
				return o, true
			}
		}
	}
}

func (e *Event) clock() *clock {
	return &clock{utc: e.utc, loc: e.Location()}
}

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
