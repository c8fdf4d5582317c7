// property_test.go is one model: the expression generators, their
// renderings to the field form and to crontab text, and the brute-force
// reference that matches the generated structure. It is kept whole so that
// the three are read, and changed, together.

package trigger

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// The property tests compare Cron.Next with a brute-force reference that
// walks instants second by second and reads the zone only through the
// standard library. Expressions are generated as structures, rendered to
// the field form or to crontab text, and matched by the reference directly
// from the structure, so the parser is under test too.

type elemKind int

const (
	kStar elemKind = iota
	kStarStep
	kSingle
	kRange
	kRangeStep
	kOpenStep
	kLast   // last day of month
	kLastWd // last <weekday> of month
	kNth    // <n>th <weekday> of month
	kLW     // last Monday-to-Friday
	kNear   // nearest Monday-to-Friday to day a
)

type refElem struct {
	kind    elemKind
	a, b, n int
	wd      time.Weekday // kLastWd, kNth
}

// covers reports whether numeric value v of a field min..max is selected.
func (e refElem) covers(v, min, max int) bool {
	switch e.kind {
	case kStar:
		return true
	case kStarStep:
		return (v-min)%e.n == 0
	case kSingle:
		return v == e.a
	case kRange:
		return v >= e.a && v <= e.b
	case kRangeStep:
		return v >= e.a && v <= e.b && (v-e.a)%e.n == 0
	case kOpenStep:
		return v >= e.a && (v-e.a)%e.n == 0
	}
	return false
}

type refField struct {
	min, max int
	elems    []refElem
	text     string
	// toWeekday maps a day-of-week value to time.Weekday; nil elsewhere.
	toWeekday func(int) time.Weekday
}

func (f *refField) matchValue(v int) bool {
	for _, e := range f.elems {
		if e.covers(v, f.min, f.max) {
			return true
		}
	}
	return false
}

func (f *refField) matchWeekday(wd time.Weekday) bool {
	for x := f.min; x <= f.max; x++ {
		if f.toWeekday(x) == wd && f.matchValue(x) {
			return true
		}
	}
	return false
}

// matchDay handles the day-of-month field with its special elements.
func (f *refField) matchDay(d int, wd time.Weekday, dim int, wdOf func(day int) time.Weekday) bool {
	for _, e := range f.elems {
		switch e.kind {
		case kLast:
			if d == dim {
				return true
			}
		case kLastWd:
			if wd == e.wd && d+7 > dim {
				return true
			}
		case kNth:
			if wd == e.wd && (d-1)/7+1 == e.n {
				return true
			}
		case kLW:
			lw := dim
			for wdOf(lw) == time.Saturday || wdOf(lw) == time.Sunday {
				lw--
			}
			if d == lw {
				return true
			}
		case kNear:
			if e.a > dim {
				continue
			}
			target := e.a
			switch wdOf(e.a) {
			case time.Saturday:
				if e.a == 1 {
					target = 3
				} else {
					target = e.a - 1
				}
			case time.Sunday:
				if e.a == dim {
					target = e.a - 2
				} else {
					target = e.a + 1
				}
			}
			if d == target {
				return true
			}
		default:
			if e.covers(d, f.min, f.max) {
				return true
			}
		}
	}
	return false
}

type refSpec struct {
	year, month, day, week, dow, hour, minute, second *refField
	either                                            bool // Vixie OR of day and dow
}

func (s *refSpec) matchDate(y int, m time.Month, d int) bool {
	date := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	dim := time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
	wdOf := func(day int) time.Weekday { return time.Date(y, m, day, 0, 0, 0, 0, time.UTC).Weekday() }
	if !s.year.matchValue(y) || !s.month.matchValue(int(m)) {
		return false
	}
	if _, wk := date.ISOWeek(); !s.week.matchValue(wk) {
		return false
	}
	dayOK := s.day.matchDay(d, date.Weekday(), dim, wdOf)
	dowOK := s.dow.matchWeekday(date.Weekday())
	for _, e := range s.dow.elems { // crontab nL and n#k
		switch e.kind {
		case kLastWd, kNth:
			dowOK = dowOK || s.dow.matchDaySpecial(e, d, date.Weekday(), dim)
		}
	}
	if s.either {
		return dayOK || dowOK
	}
	return dayOK && dowOK
}

func (f *refField) matchDaySpecial(e refElem, d int, wd time.Weekday, dim int) bool {
	g := refField{elems: []refElem{e}}
	return g.matchDay(d, wd, dim, nil)
}

func (s *refSpec) matchTime(sod int) bool {
	return s.hour.matchValue(sod/3600) && s.minute.matchValue(sod/60%60) && s.second.matchValue(sod%60)
}

// refNexts walks instants after from for window seconds and returns up to
// max fire times. A wall second fires at the first instant whose clock
// reading reaches it; wall seconds jumped over fire with the jump.
func refNexts(s *refSpec, loc *time.Location, from time.Time, window int64, max int) []int64 {
	offset := func(u int64) int64 {
		_, o := time.Unix(u, 0).In(loc).Zone()
		return int64(o)
	}
	u0 := from.Unix()
	maxWall := u0 + offset(u0)
	if back := u0 - 93600; offset(back) != offset(u0) { // a transition in the last 26 hours
		lo, hi := back, u0 // offset(lo) differs, offset(hi) is current
		for hi-lo > 1 {
			mid := lo + (hi-lo)/2
			if offset(mid) == offset(u0) {
				hi = mid
			} else {
				lo = mid
			}
		}
		maxWall = max64(maxWall, lo+offset(lo))
	}
	var out []int64
	cachedDay, dayOK := int64(-1<<62), false
	var off, end int64 = 0, -1 << 62
	for u := u0 + 1; u <= u0+window && len(out) < max; u++ {
		if u >= end {
			tm := time.Unix(u, 0).In(loc)
			_, o := tm.Zone()
			_, e := tm.ZoneBounds()
			off, end = int64(o), 1<<62
			if !e.IsZero() {
				end = e.Unix()
			}
		}
		w := u + off
		fired := false
		for x := maxWall + 1; x <= w && !fired; x++ {
			day := floorDivTest(x, 86400)
			if day != cachedDay {
				cachedDay = day
				y, m, d := time.Unix(day*86400, 0).UTC().Date()
				dayOK = s.matchDate(y, m, d)
			}
			if dayOK && s.matchTime(int(x-day*86400)) {
				fired = true
			}
			if !dayOK { // skip the rest of a non-matching day
				x = (day+1)*86400 - 1
			}
		}
		if w > maxWall {
			maxWall = w
		}
		if fired {
			out = append(out, u)
		}
	}
	return out
}

func max64(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

func floorDivTest(a, b int64) int64 {
	if a < 0 {
		return -((-a + b - 1) / b)
	}
	return a / b
}

var (
	monthText = []string{"", "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}
	apsDow    = []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}
	cronDow   = []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}
	nthText   = []string{"", "1st", "2nd", "3rd", "4th", "5th"}
)

// genElem draws one numeric element of min..max and renders it; names, when
// given, may replace numbers.
func genElem(t *rapid.T, label string, min, max int, names []string) (refElem, string) {
	name := func(v int) string {
		if names != nil && v < len(names) && names[v] != "" && rapid.Bool().Draw(t, label+"_name") {
			return names[v]
		}
		return strconv.Itoa(v)
	}
	val := func(s string) int { return rapid.IntRange(min, max).Draw(t, label+s) }
	step := func() int { return rapid.IntRange(1, (max-min)/2+1).Draw(t, label+"_step") }
	switch k := elemKind(rapid.IntRange(int(kStar), int(kOpenStep)).Draw(t, label+"_kind")); k {
	case kStar:
		return refElem{kind: k}, "*"
	case kStarStep:
		n := step()
		return refElem{kind: k, n: n}, fmt.Sprintf("*/%d", n)
	case kSingle:
		a := val("_a")
		return refElem{kind: k, a: a}, name(a)
	case kRange, kRangeStep:
		a, b := val("_a"), val("_b")
		if a > b {
			a, b = b, a
		}
		if k == kRange {
			return refElem{kind: k, a: a, b: b}, name(a) + "-" + name(b)
		}
		n := step()
		return refElem{kind: k, a: a, b: b, n: n}, fmt.Sprintf("%d-%d/%d", a, b, n)
	default:
		a, n := val("_a"), step()
		return refElem{kind: kOpenStep, a: a, n: n}, fmt.Sprintf("%d/%d", a, n)
	}
}

func genList(t *rapid.T, label string, min, max int, names []string, special func() (refElem, string, bool)) *refField {
	f := &refField{min: min, max: max}
	var texts []string
	for range rapid.IntRange(1, 3).Draw(t, label+"_len") {
		if special != nil {
			if e, s, ok := special(); ok {
				f.elems, texts = append(f.elems, e), append(texts, s)
				continue
			}
		}
		e, s := genElem(t, label, min, max, names)
		f.elems, texts = append(f.elems, e), append(texts, s)
	}
	f.text = strings.Join(texts, ",")
	return f
}

func fixed(min, max, v int) *refField {
	return &refField{min: min, max: max, elems: []refElem{{kind: kSingle, a: v}}, text: strconv.Itoa(v)}
}

func star(min, max int) *refField {
	return &refField{min: min, max: max, elems: []refElem{{kind: kStar}}, text: "*"}
}

// genAPS draws a field-form trigger; it returns the JSON object and the
// reference spec with APScheduler's defaults applied.
func genAPS(t *rapid.T) (map[string]any, *refSpec) {
	type fdef struct {
		name     string
		min, max int
		names    []string
		def      int // -1: "*"
	}
	defs := []fdef{{"year", 1970, 9999, nil, -1}, {"month", 1, 12, monthText, 1}, {"day", 1, 31, nil, 1},
		{"week", 1, 53, nil, -1}, {"day_of_week", 0, 6, apsDow, -1}, {"hour", 0, 23, nil, 0},
		{"minute", 0, 59, nil, 0}, {"second", 0, 59, nil, 0}}
	obj := map[string]any{"type": "cron"}
	fields := make([]*refField, len(defs))
	lastGiven := -1
	for i, d := range defs {
		// Coarse fields are rarely restricted, so that matches fall inside
		// the reference's search window often enough.
		prob := []int{5, 10, 25, 10, 35, 50, 50, 40}[i]
		if rapid.IntRange(0, 99).Draw(t, d.name+"_given") >= prob {
			continue
		}
		var special func() (refElem, string, bool)
		min, max := d.min, d.max
		if d.name == "year" {
			min, max = 2000, 2040
		}
		if d.name == "day" {
			special = func() (refElem, string, bool) {
				switch rapid.IntRange(0, 5).Draw(t, "day_special") {
				case 0:
					return refElem{kind: kLast}, "last", true
				case 1:
					wd := rapid.IntRange(0, 6).Draw(t, "day_wd")
					return refElem{kind: kLastWd, wd: time.Weekday((wd + 1) % 7)}, "last " + apsDow[wd], true
				case 2:
					wd, n := rapid.IntRange(0, 6).Draw(t, "day_wd"), rapid.IntRange(1, 5).Draw(t, "day_nth")
					return refElem{kind: kNth, wd: time.Weekday((wd + 1) % 7), n: n}, nthText[n] + " " + apsDow[wd], true
				}
				return refElem{}, "", false
			}
		}
		f := genList(t, d.name, min, max, d.names, special)
		f.min, f.max = d.min, d.max
		fields[i] = f
		lastGiven = i
		if len(f.elems) == 1 && f.elems[0].kind == kSingle && f.text == strconv.Itoa(f.elems[0].a) && rapid.Bool().Draw(t, d.name+"_int") {
			obj[d.name] = f.elems[0].a
		} else {
			obj[d.name] = f.text
		}
	}
	for i, d := range defs {
		if fields[i] != nil {
			continue
		}
		if i > lastGiven && lastGiven >= 0 && d.def >= 0 {
			fields[i] = fixed(d.min, d.max, d.def)
		} else {
			fields[i] = star(d.min, d.max)
		}
	}
	fields[4].toWeekday = func(v int) time.Weekday { return time.Weekday((v + 1) % 7) }
	return obj, &refSpec{year: fields[0], month: fields[1], day: fields[2], week: fields[3], dow: fields[4],
		hour: fields[5], minute: fields[6], second: fields[7]}
}

// genCrontab draws a crontab expression and its reference spec.
func genCrontab(t *rapid.T) (string, *refSpec) {
	s := &refSpec{year: star(0, 9999), week: star(1, 53)}
	sixFields := rapid.Bool().Draw(t, "six")
	s.second = fixed(0, 59, 0)
	if sixFields {
		s.second = genList(t, "second", 0, 59, nil, nil)
	}
	s.minute = genList(t, "minute", 0, 59, nil, nil)
	s.hour = genList(t, "hour", 0, 23, nil, nil)
	starOr := func(label string, min, max int) (*refField, bool) {
		if rapid.IntRange(0, 2).Draw(t, label+"_star") > 0 {
			f := star(min, max)
			if rapid.Bool().Draw(t, label+"_q") {
				f.text = "?"
			}
			return f, true
		}
		return nil, false
	}
	var ok bool
	if s.day, ok = starOr("dom", 1, 31); !ok {
		s.day = genList(t, "dom", 1, 31, nil, func() (refElem, string, bool) {
			switch rapid.IntRange(0, 5).Draw(t, "dom_special") {
			case 0:
				return refElem{kind: kLast}, "L", true
			case 1:
				return refElem{kind: kLW}, "LW", true
			case 2:
				a := rapid.IntRange(1, 31).Draw(t, "dom_w")
				return refElem{kind: kNear, a: a}, fmt.Sprintf("%dW", a), true
			}
			return refElem{}, "", false
		})
	}
	s.month = star(1, 12)
	if rapid.IntRange(0, 3).Draw(t, "month_restricted") == 0 {
		s.month = genList(t, "month", 1, 12, monthText, nil)
	}
	if s.dow, ok = starOr("dow", 0, 7); !ok {
		s.dow = genList(t, "dow", 0, 7, cronDow, func() (refElem, string, bool) {
			switch rapid.IntRange(0, 4).Draw(t, "dow_special") {
			case 0:
				wd := rapid.IntRange(0, 7).Draw(t, "dow_l")
				return refElem{kind: kLastWd, wd: time.Weekday(wd % 7)}, fmt.Sprintf("%dL", wd), true
			case 1:
				wd, n := rapid.IntRange(0, 6).Draw(t, "dow_h"), rapid.IntRange(1, 5).Draw(t, "dow_n")
				return refElem{kind: kNth, wd: time.Weekday(wd), n: n}, fmt.Sprintf("%s#%d", cronDow[wd], n), true
			}
			return refElem{}, "", false
		})
		// A range ending in "sun" means 7 only after a later start, so the
		// day-of-week text is rendered with numbers (names are covered by
		// the table tests).
		s.dow.text = fixSunRanges(s.dow)
	}
	s.dow.toWeekday = func(v int) time.Weekday { return time.Weekday(v % 7) }
	starred := func(f *refField) bool { return strings.HasPrefix(f.text, "*") || strings.HasPrefix(f.text, "?") }
	s.either = !starred(s.day) && !starred(s.dow)
	fields := []string{s.minute.text, s.hour.text, s.day.text, s.month.text, s.dow.text}
	if sixFields {
		fields = append([]string{s.second.text}, fields...)
	}
	return strings.Join(fields, " "), s
}

// fixSunRanges re-renders day-of-week text so that no range ends in a name
// the parser would read differently.
func fixSunRanges(f *refField) string {
	var parts []string
	for _, e := range f.elems {
		switch e.kind {
		case kStar:
			parts = append(parts, "*")
		case kStarStep:
			parts = append(parts, fmt.Sprintf("*/%d", e.n))
		case kSingle:
			parts = append(parts, strconv.Itoa(e.a))
		case kRange:
			parts = append(parts, fmt.Sprintf("%d-%d", e.a, e.b))
		case kRangeStep:
			parts = append(parts, fmt.Sprintf("%d-%d/%d", e.a, e.b, e.n))
		case kOpenStep:
			parts = append(parts, fmt.Sprintf("%d/%d", e.a, e.n))
		case kLastWd:
			parts = append(parts, fmt.Sprintf("%dL", e.wd))
		case kNth:
			parts = append(parts, fmt.Sprintf("%s#%d", cronDow[e.wd], e.n))
		}
	}
	return strings.Join(parts, ",")
}

var propertyZones = []string{"UTC", "America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "Pacific/Apia"}

// transitions lists a zone's offset changes between 2005 and 2035.
func transitions(loc *time.Location) []time.Time {
	var out []time.Time
	t := time.Date(2005, 1, 1, 0, 0, 0, 0, time.UTC)
	for t.Year() < 2035 {
		_, end := t.In(loc).ZoneBounds()
		if end.IsZero() {
			break
		}
		out = append(out, end)
		t = end
	}
	return out
}

type zoneInfo struct {
	loc   *time.Location
	trans []time.Time
}

func loadZones(t *testing.T) []zoneInfo {
	var zs []zoneInfo
	for _, name := range propertyZones {
		loc := mustZone(t, name)
		zs = append(zs, zoneInfo{loc, transitions(loc)})
	}
	return zs
}

// genStart draws an instant, often within a day or two of a transition.
func genStart(t *rapid.T, z zoneInfo) time.Time {
	var base time.Time
	if len(z.trans) > 0 && rapid.IntRange(0, 3).Draw(t, "near_transition") > 0 {
		base = rapid.SampledFrom(z.trans).Draw(t, "transition").
			Add(time.Duration(rapid.IntRange(-2*86400, 86400).Draw(t, "offset")) * time.Second)
	} else {
		base = time.Unix(rapid.Int64Range(1104537600, 2051222400).Draw(t, "unix"), 0)
	}
	if rapid.IntRange(0, 3).Draw(t, "has_nanos") == 0 {
		base = base.Add(time.Duration(rapid.IntRange(1, 999999999).Draw(t, "nanos")))
	}
	return base
}

const refWindow = 2 * 86400

func checkAgainstReference(t *rapid.T, c Trigger, spec *refSpec, loc *time.Location, from time.Time, what string) {
	want := refNexts(spec, loc, from, refWindow, 3)
	got := nextN(c, from, len(want)+1)
	for i, w := range want {
		if i >= len(got) || got[i].Unix() != w || got[i].Nanosecond() != 0 {
			var g any = "none"
			if i < len(got) {
				g = got[i].In(loc)
			}
			t.Fatalf("%s in %s from %s: Next #%d = %v, reference %s", what, loc, from.In(loc),
				i, g, time.Unix(w, 0).In(loc))
		}
	}
	if len(want) < 3 && len(got) > len(want) && got[len(want)].Unix() <= from.Unix()+refWindow {
		t.Fatalf("%s in %s from %s: Next #%d = %s inside the window, reference found none",
			what, loc, from.In(loc), len(want), got[len(want)].In(loc))
	}
}

func TestCron_MatchesReference_Crontab(t *testing.T) {
	zones := loadZones(t)
	rapid.Check(t, func(t *rapid.T) {
		z := rapid.SampledFrom(zones).Draw(t, "zone")
		expr, spec := genCrontab(t)
		c, err := ParseCrontab(expr, z.loc)
		if err != nil {
			t.Fatalf("ParseCrontab(%q): %v", expr, err)
		}
		checkAgainstReference(t, c, spec, z.loc, genStart(t, z), fmt.Sprintf("crontab %q", expr))
	})
}

func TestCron_MatchesReference_Fields(t *testing.T) {
	zones := loadZones(t)
	rapid.Check(t, func(t *rapid.T) {
		z := rapid.SampledFrom(zones).Draw(t, "zone")
		obj, spec := genAPS(t)
		loc := time.UTC
		if rapid.Bool().Draw(t, "timezone_key") {
			obj["timezone"] = z.loc.String()
		} else {
			loc = z.loc
		}
		raw, err := json.Marshal(obj)
		if err != nil {
			t.Fatal(err)
		}
		trig, _, err := Parse(raw, parseNow, loc)
		if err != nil {
			t.Fatalf("Parse(%s): %v", raw, err)
		}
		checkAgainstReference(t, trig, spec, z.loc, genStart(t, z), string(raw))
	})
}
