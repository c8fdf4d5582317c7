package trigger

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/schedulezero/schedulezero/pkg/field"
)

// The instants a trigger object names (run_date, start_date, end_date):
// ISO-8601 text or Unix seconds.

const timeFix = `use an ISO-8601 time such as "2026-01-02T03:04:05", "2026-01-02 03:04:05+02:00" or Unix seconds`

// instant reads a time: an ISO-8601 string (naive means loc) or Unix
// seconds. It records the normalized form in p.out.
func (p *parser) instant(key string, loc *time.Location) (time.Time, bool, error) {
	v, ok, err := p.value(key)
	if err != nil || !ok {
		return time.Time{}, ok, err
	}
	var t time.Time
	switch x := v.(type) {
	case string:
		if strings.TrimSpace(x) == "" {
			return time.Time{}, false, nil
		}
		t, err = parseISO(x, loc)
		if err != nil {
			return time.Time{}, false, field.Errorf(key, "%v", err).WithFix("%s", timeFix)
		}
	case json.Number:
		t, err = parseUnix(x)
		if err != nil {
			return time.Time{}, false, field.Errorf(key, "%v", err).WithFix("%s", timeFix)
		}
		if t.Equal(time.Unix(0, 0)) {
			return time.Time{}, false, nil
		}
	default:
		return time.Time{}, false, field.Errorf(key, "must be a time string or Unix seconds, not %s", jsonKind(v)).
			WithFix("%s", timeFix)
	}
	p.out[key] = t.Format(time.RFC3339Nano)
	return t, true, nil
}

var isoRE = regexp.MustCompile(`^(\d{4})-(\d{1,2})-(\d{1,2})(?:[Tt ](\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?\s*(?:([Zz])|([+-])(\d{2})(?::?(\d{2}))?)?$`)

// parseISO parses the ISO-8601 forms APScheduler and Python accept. A time
// without an offset is a wall time in loc (see resolve for gaps and folds).
func parseISO(s string, loc *time.Location) (time.Time, error) {
	m := isoRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return time.Time{}, fmt.Errorf("%q is not an ISO-8601 time", s)
	}
	n := func(i int) int { v, _ := strconv.Atoi(m[i]); return v }
	y, mo, d, h, mi, sec := n(1), n(2), n(3), n(4), n(5), n(6)
	nsec := 0
	if m[7] != "" {
		nsec, _ = strconv.Atoi((m[7] + "000000000")[:9])
	}
	if y < 1 || mo < 1 || mo > 12 || d < 1 || d > daysIn(y, mo) || h > 23 || mi > 59 || sec > 59 {
		return time.Time{}, fmt.Errorf("%q is not a valid date and time", s)
	}
	wall := daysFromCivil(y, mo, d)*secondsPerDay + int64(h*3600+mi*60+sec)
	switch {
	case m[8] != "":
		return time.Unix(wall, int64(nsec)).UTC(), nil
	case m[9] != "":
		off := n(10)*3600 + n(11)*60
		if n(10) > 23 || n(11) > 59 {
			return time.Time{}, fmt.Errorf("%q has an invalid UTC offset", s)
		}
		if m[9] == "-" {
			off = -off
		}
		return time.Unix(wall-int64(off), int64(nsec)).In(time.FixedZone("", off)), nil
	}
	return time.Unix(resolve(loc, wall), int64(nsec)).In(loc), nil
}

// parseUnix converts Unix seconds, exact for plain decimals.
func parseUnix(num json.Number) (time.Time, error) {
	s := num.String()
	const lo, hi = -62135596800, 253402300799 // years 1 to 9999
	if !strings.ContainsAny(s, "eE") {
		ip, fp, _ := strings.Cut(s, ".")
		sec, err := strconv.ParseInt(ip, 10, 64)
		if err == nil && sec >= lo && sec <= hi {
			nsec, _ := strconv.Atoi((fp + "000000000")[:9])
			if strings.HasPrefix(ip, "-") {
				nsec = -nsec
			}
			return time.Unix(sec, int64(nsec)).UTC(), nil
		}
	}
	f, err := num.Float64()
	if err != nil || math.IsNaN(f) || f < lo || f > hi {
		return time.Time{}, fmt.Errorf("%s is not a Unix time between years 1 and 9999", s)
	}
	sec := math.Floor(f)
	return time.Unix(int64(sec), int64(math.Round((f-sec)*1e9))).UTC(), nil
}
