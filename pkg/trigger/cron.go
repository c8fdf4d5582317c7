package trigger

import (
	"math/bits"
	"time"
)

// maxYear bounds every search: no trigger fires after 9999-12-31.
const maxYear = 9999

// maxScanYears bounds how many calendar years one Next call examines day by
// day. Every field but year repeats with the 400-year Gregorian cycle (ISO
// weeks too: 400 years are exactly 20871 weeks), so an expression that has
// not matched in this many allowed years never will.
const maxScanYears = 1000

// Cron fires at the wall-clock times that match a set of calendar fields in
// one time zone. Both the APScheduler field form and crontab strings compile
// to it. See the package documentation for how daylight-saving transitions
// are handled.
type Cron struct {
	loc     *time.Location
	seconds uint64 // bits 0-59
	minutes uint64 // bits 0-59
	hours   uint64 // bits 0-23
	months  uint16 // bits 1-12
	weeks   uint64 // ISO weeks, bits 1-53; all bits when unrestricted
	years   []yearRange
	dom     daySet
	dow     daySet
	// either selects the Vixie rule: a day matches when dom OR dow matches.
	either bool
	start  time.Time // zero: no lower bound
	end    time.Time // zero: no upper bound
	// never is set when the day fields select no day of any allowed month
	// ("30 2"), so Next can answer at once instead of scanning centuries.
	never bool
}

// finish computes the derived fields once the parser has set the others.
func (c *Cron) finish() *Cron {
	d := c.dom
	plainDays := !d.star && !d.last && !d.lastWeekday && d.nearest == 0 && d.weekdays == 0 &&
		d.lastOf == 0 && d.nth == [7]uint8{}
	if plainDays && (!c.either || c.dow.star) {
		longest := 0
		for m := 1; m <= 12; m++ {
			if c.months&(1<<m) != 0 {
				longest = max(longest, daysIn(2000, m)) // 2000: February has 29 days
			}
		}
		c.never = d.days&(1<<uint(longest+1)-1) == 0 // no chosen day exists
	}
	return c
}

// yearRange is first..last (inclusive) in steps of step.
type yearRange struct{ first, last, step int }

// daySet is one day-selecting field: plain days of the month, weekdays and
// the special forms (last day, nearest weekday, nth and last weekday).
type daySet struct {
	star        bool
	days        uint64 // days of month, bits 1-31
	last        bool   // last day of the month
	lastWeekday bool   // LW: last Monday-to-Friday of the month
	nearest     uint64 // nW: weekday nearest to day n, bits 1-31
	weekdays    uint8  // bits by time.Weekday
	nth         [7]uint8
	lastOf      uint8 // "last fri": bits by time.Weekday
}

// Location returns the zone the trigger's wall-clock fields are read in.
func (c *Cron) Location() *time.Location { return c.loc }

// Next returns the first matching instant strictly after t that is not
// before the start time and not after the end time.
func (c *Cron) Next(t time.Time) (time.Time, bool) {
	if !c.start.IsZero() && t.Before(c.start) {
		t = c.start.Add(-time.Nanosecond)
	}
	if c.never {
		return time.Time{}, false
	}
	u := t.Unix() + 1 // first whole second strictly after t
	next, ok := c.nextFrom(u)
	if !ok {
		return time.Time{}, false
	}
	res := time.Unix(next, 0).In(c.loc)
	if !c.end.IsZero() && res.After(c.end) {
		return time.Time{}, false
	}
	return res, true
}

// nextFrom returns the first matching instant (Unix seconds) at or after u.
func (c *Cron) nextFrom(u int64) (int64, bool) {
	w, p := wallStart(c.loc, u)
	for range 4 {
		mw, ok := c.nextWall(w)
		if !ok {
			return 0, false
		}
		inst := mw - p.off
		if !p.clearlyHolds(inst) { // else the zone period of u holds it: no lookup
			inst = resolve(c.loc, mw)
		}
		if inst >= u {
			return inst, true
		}
		// Only reachable in zones with transitions closer together than
		// resolve can see; step past and try again.
		w = mw + 1
	}
	return 0, false
}

// nextWall returns the first matching wall second at or after w.
func (c *Cron) nextWall(w int64) (int64, bool) {
	day := floorDiv(w, secondsPerDay)
	sod := int(w - day*secondsPerDay)
	scanned, lastYear := 0, 0
	for {
		y, m, d := civilFromDays(day)
		if y > maxYear {
			return 0, false
		}
		if y != lastYear {
			lastYear = y
			if scanned++; scanned > maxScanYears {
				return 0, false
			}
			ny, ok := c.nextYear(y)
			if !ok {
				return 0, false
			}
			if ny != y {
				day, sod = daysFromCivil(ny, 1, 1), 0
				continue
			}
		}
		if c.months&(1<<m) == 0 {
			nm := nextBit16(c.months, m+1)
			if nm < 0 {
				day = daysFromCivil(y+1, 1, 1)
			} else {
				day = daysFromCivil(y, nm, 1)
			}
			sod = 0
			continue
		}
		if c.dayMatches(day, y, m, d) {
			if s, ok := c.nextTimeOfDay(sod); ok {
				return day*secondsPerDay + int64(s), true
			}
		}
		day++
		sod = 0
	}
}

func (c *Cron) nextYear(y int) (int, bool) {
	if c.years == nil {
		return y, true
	}
	best := -1
	for _, r := range c.years {
		if y > r.last {
			continue
		}
		v := r.first
		if y > r.first {
			v = r.first + (y-r.first+r.step-1)/r.step*r.step
		}
		if v <= r.last && (best < 0 || v < best) {
			best = v
		}
	}
	return best, best >= 0
}

func (c *Cron) dayMatches(day int64, y, m, d int) bool {
	if c.weeks != allWeeks && c.weeks&(1<<isoWeekOf(day)) == 0 {
		return false
	}
	wd := weekdayOf(day)
	dim := daysIn(y, m)
	if c.either {
		return c.dom.match(y, m, d, wd, dim) || c.dow.match(y, m, d, wd, dim)
	}
	return c.dom.match(y, m, d, wd, dim) && c.dow.match(y, m, d, wd, dim)
}

func (s *daySet) match(y, m, d, wd, dim int) bool {
	switch {
	case s.star:
		return true
	case s.days&(1<<d) != 0:
		return true
	case s.last && d == dim:
		return true
	case s.weekdays&(1<<wd) != 0:
		return true
	case s.nth[wd]&(1<<((d-1)/7+1)) != 0:
		return true
	case s.lastOf&(1<<wd) != 0 && d+7 > dim:
		return true
	}
	if s.lastWeekday {
		lw, lwd := dim, (wd+dim-d)%7
		switch lwd {
		case 6:
			lw--
		case 0:
			lw -= 2
		}
		if d == lw {
			return true
		}
	}
	for n := s.nearest; n != 0; n &= n - 1 {
		if nearestWeekday(bits.TrailingZeros64(n), d, wd, dim) {
			return true
		}
	}
	return false
}

// nearestWeekday reports whether day d (weekday wd) of a month with dim days
// is the Monday-to-Friday day nearest to day n, without leaving the month.
func nearestWeekday(n, d, wd, dim int) bool {
	if n > dim {
		return false
	}
	nwd := ((wd+n-d)%7 + 7) % 7
	target := n
	switch nwd {
	case 6: // Saturday: Friday before, or Monday after on the 1st
		if n == 1 {
			target = 3
		} else {
			target = n - 1
		}
	case 0: // Sunday: Monday after, or Friday before at the month's end
		if n == dim {
			target = n - 2
		} else {
			target = n + 1
		}
	}
	return d == target
}

// nextTimeOfDay returns the first matching second of the day at or after sod.
func (c *Cron) nextTimeOfDay(sod int) (int, bool) {
	h, mi, s := sod/3600, sod/60%60, sod%60
	if c.hours&(1<<h) != 0 {
		if c.minutes&(1<<mi) != 0 {
			if s2 := nextBit64(c.seconds, s); s2 >= 0 {
				return h*3600 + mi*60 + s2, true
			}
		}
		if m2 := nextBit64(c.minutes, mi+1); m2 >= 0 {
			return h*3600 + m2*60 + nextBit64(c.seconds, 0), true
		}
	}
	h2 := nextBit64(c.hours, h+1)
	if h2 < 0 {
		return 0, false
	}
	return h2*3600 + nextBit64(c.minutes, 0)*60 + nextBit64(c.seconds, 0), true
}

func nextBit64(mask uint64, from int) int {
	if from >= 64 {
		return -1
	}
	v := mask >> uint(from) << uint(from)
	if v == 0 {
		return -1
	}
	return bits.TrailingZeros64(v)
}

func nextBit16(mask uint16, from int) int {
	return nextBit64(uint64(mask), from)
}

// zoneAt returns the UTC offset at instant u and the bounds [start, end) of
// the zone period holding it; math.MinInt64/MaxInt64 stand for "none".
func zoneAt(loc *time.Location, u int64) (off int64, start, end int64) {
	t := time.Unix(u, 0).In(loc)
	_, o := t.Zone()
	s, e := t.ZoneBounds()
	start, end = minInstant, maxInstant
	if !s.IsZero() {
		start = s.Unix()
	}
	if !e.IsZero() {
		end = e.Unix()
	}
	return int64(o), start, end
}

const (
	minInstant = -1 << 62
	maxInstant = 1 << 62
	// nearTransition: offsets differ by less than this, so an instant this
	// far from both ends of its zone period cannot share its wall time with
	// an instant of another period.
	nearTransition = 2 * secondsPerDay
)

// wallStart returns the wall second from which to search for matches at or
// after instant u. If u lies in the second pass through a repeated (fall
// back) hour, the wall times up to the end of that hour already fired in the
// first pass, so the search starts at the end of the repeated range. If u is
// the instant of a forward jump, the skipped wall times fire at u, so the
// search starts at the beginning of the gap.
// It also returns the zone period holding u.
func wallStart(loc *time.Location, u int64) (int64, period) {
	off, start, end := zoneAt(loc, u)
	p := period{off, start, end}
	if u-start < nearTransition {
		prevOff, _, _ := zoneAt(loc, start-1)
		if prevOff > off && u < start+(prevOff-off) {
			return start + prevOff, p
		}
		if prevOff < off && u == start {
			// u is the jump itself: the skipped wall times fire now.
			return start + prevOff, p
		}
	}
	return u + off, p
}

// period is a stretch of time with one UTC offset: [start, end).
type period struct{ off, start, end int64 }

// clearlyHolds reports whether instant u lies in p so far from its ends
// that no instant of another period can show the same wall time.
func (p period) clearlyHolds(u int64) bool {
	return u-p.start >= nearTransition && p.end-u >= nearTransition
}

// resolve maps wall second w to an instant: the first instant that shows w;
// for a wall time skipped by a forward jump, the instant of the jump.
func resolve(loc *time.Location, w int64) int64 {
	o0, _, _ := zoneAt(loc, w)
	guess := w - o0
	off, start, end := zoneAt(loc, guess)
	if u := w - off; (period{off, start, end}).clearlyHolds(u) {
		return u
	}
	// Near a transition: look at two periods on each side.
	ps := []period{{off, start, end}}
	for i := 0; i < 2 && ps[0].start > minInstant; i++ {
		o, s, e := zoneAt(loc, ps[0].start-1)
		ps = append([]period{{o, s, e}}, ps...)
	}
	for i := 0; i < 2 && ps[len(ps)-1].end < maxInstant; i++ {
		o, s, e := zoneAt(loc, ps[len(ps)-1].end)
		ps = append(ps, period{o, s, e})
	}
	for _, p := range ps { // earliest valid instant first
		if u := w - p.off; u >= p.start && u < p.end {
			return u
		}
	}
	for i := 1; i < len(ps); i++ { // in a gap: fire at the jump
		b := ps[i].start
		if w >= b+ps[i-1].off && w < b+ps[i].off {
			return b
		}
	}
	return guess
}
