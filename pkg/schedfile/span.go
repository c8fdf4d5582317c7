package schedfile

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// spanUnits are systemd.time(7)'s time span units.
var spanUnits = map[string]float64{
	"ns": 1, "nsec": 1,
	"us": 1e3, "usec": 1e3, "µs": 1e3, "μs": 1e3,
	"ms": 1e6, "msec": 1e6,
	"s": 1e9, "sec": 1e9, "second": 1e9, "seconds": 1e9,
	"m": 60e9, "min": 60e9, "minute": 60e9, "minutes": 60e9,
	"h": 3600e9, "hr": 3600e9, "hour": 3600e9, "hours": 3600e9,
	"d": 86400e9, "day": 86400e9, "days": 86400e9,
	"w": 604800e9, "week": 604800e9, "weeks": 604800e9,
	"M": 2629800e9, "month": 2629800e9, "months": 2629800e9,
	"y": 31557600e9, "year": 31557600e9, "years": 31557600e9,
}

const spanFix = `write a systemd time span such as "30s", "5min", "1h 30min" or "500ms"; a bare number is seconds`

// ParseSpan reads a systemd time span ("1h 30min", "90", "2.5s"); a
// number without a unit is seconds.
func ParseSpan(s string) (time.Duration, error) {
	rest := strings.TrimSpace(s)
	if rest == "" {
		return 0, fmt.Errorf("%q is not a time span", s)
	}
	var total float64
	for rest != "" {
		i := 0
		for i < len(rest) && (rest[i] >= '0' && rest[i] <= '9' || rest[i] == '.') {
			i++
		}
		if i == 0 {
			return 0, fmt.Errorf("%q is not a time span", s)
		}
		n, err := strconv.ParseFloat(rest[:i], 64)
		if err != nil {
			return 0, fmt.Errorf("%q is not a time span", s)
		}
		rest = strings.TrimLeft(rest[i:], " ")
		j := 0
		for j < len(rest) && !(rest[j] >= '0' && rest[j] <= '9' || rest[j] == '.' || rest[j] == ' ') {
			j++
		}
		unit := 1e9
		if j > 0 {
			u, ok := spanUnits[rest[:j]]
			if !ok {
				return 0, fmt.Errorf("%q: unknown unit %q", s, rest[:j])
			}
			unit = u
		}
		rest = strings.TrimLeft(rest[j:], " ")
		total += n * unit
	}
	if total >= math.MaxInt64 {
		return 0, fmt.Errorf("%q is too long", s)
	}
	return time.Duration(math.Round(total)), nil
}

// formatSpan writes d as a systemd time span that ParseSpan reads back
// exactly: "1h 30min", "10s", "1s 500ms".
func formatSpan(d time.Duration) string {
	if d == 0 {
		return "0"
	}
	units := []struct {
		name string
		d    time.Duration
	}{{"d", 24 * time.Hour}, {"h", time.Hour}, {"min", time.Minute}, {"s", time.Second},
		{"ms", time.Millisecond}, {"us", time.Microsecond}, {"ns", 1}}
	var parts []string
	for _, u := range units {
		if n := d / u.d; n > 0 {
			parts = append(parts, strconv.FormatInt(int64(n), 10)+u.name)
			d -= n * u.d
		}
	}
	return strings.Join(parts, " ")
}

// parseBool reads systemd's booleans.
func parseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "yes", "y", "true", "t", "on":
		return true, nil
	case "0", "no", "n", "false", "f", "off":
		return false, nil
	}
	return false, fmt.Errorf("%q is not a boolean", s)
}
