package trigger

import (
	"encoding/json"
	"time"

	"github.com/schedulezero/schedulezero/pkg/field"
)

// DefaultMinInterval is the floor the scheduler applies unless told
// otherwise: a schedule may repeat at most once a second. That is the
// finest step of a crontab's seconds field and of "*:*:*" in a systemd
// calendar; systemd itself coalesces timers to AccuracySec= (1 min by
// default), so a finer repetition is almost always a mistake, and one
// repeating every nanosecond keeps the engine busy for nothing.
const DefaultMinInterval = time.Second

// Bounds of the fire sample that measures a cron or calendar trigger's
// smallest gap. A cron or calendar event is a product of its fields, so
// each kind of gap (within a minute, across a minute, an hour, a day) shows
// within the first day of fires; the sample stops sooner when it has
// covered two days or found a gap below the floor.
const (
	floorSampleFires = 1000
	floorSampleSpan  = 48 * time.Hour
)

// ParseMin is Parse with a floor: a trigger that repeats faster than min
// (its smallest gap between two consecutive fires) is a *field.Error naming
// the key that sets the repetition ("seconds", "expr", "crontab", the
// finest cron field). min <= 0 checks nothing. The floor is for new
// triggers; triggers already stored are parsed with Parse and checked
// with CheckMin.
func ParseMin(raw json.RawMessage, now time.Time, loc *time.Location, min time.Duration) (Trigger, json.RawMessage, error) {
	trig, norm, key, err := parse(raw, now, loc, true)
	if err != nil {
		return nil, nil, err
	}
	if err := checkMin(trig, now, min, key); err != nil {
		return nil, nil, err
	}
	return trig, norm, nil
}

// CheckMin reports whether trig, sampled from now, repeats faster than min.
// The error is a *field.Error on field "trigger".
func CheckMin(trig Trigger, now time.Time, min time.Duration) error {
	return checkMin(trig, now, min, "trigger")
}

func checkMin(trig Trigger, now time.Time, min time.Duration, key string) error {
	if min <= 0 {
		return nil
	}
	gap, ok := minGap(trig, now, min)
	if !ok || gap >= min {
		return nil
	}
	return field.Errorf(key, "repeats every %s, more often than the minimum interval of %s", gap, min).
		WithFix("repeat at most once every %s, or lower the scheduler's minimum interval", min)
}

// MinGap returns the smallest gap between consecutive fires of trig after
// now, and false when trig does not repeat (a date, or one fire left). An
// interval's gap is its period; a cron or calendar trigger is sampled (see
// floorSampleFires).
func MinGap(trig Trigger, now time.Time) (time.Duration, bool) {
	return minGap(trig, now, 0)
}

// minGap is MinGap that stops sampling at the first gap below stop.
func minGap(trig Trigger, now time.Time, stop time.Duration) (time.Duration, bool) {
	switch t := trig.(type) {
	case Date:
		return 0, false
	case Interval:
		return t.Every, t.Every > 0
	}
	prev, ok := trig.Next(now)
	if !ok {
		return 0, false
	}
	first := prev
	var gap time.Duration
	found := false
	for i := 0; i < floorSampleFires; i++ {
		next, ok := trig.Next(prev)
		if !ok {
			break
		}
		if d := next.Sub(prev); !found || d < gap {
			gap, found = d, true
		}
		if gap < stop || next.Sub(first) > floorSampleSpan {
			break
		}
		prev = next
	}
	return gap, found
}
