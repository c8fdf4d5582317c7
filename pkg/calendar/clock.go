package calendar

import (
	"time"
)

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
