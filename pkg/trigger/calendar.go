package trigger

import (
	"time"

	"github.com/schedulezero/schedulezero/pkg/calendar"
	"github.com/schedulezero/schedulezero/pkg/field"
)

// Calendar is a systemd calendar event (OnCalendar= syntax) with optional
// bounds.
type Calendar struct {
	Event      *calendar.Event
	Start, End time.Time // zero: unbounded
}

// Next returns the first elapse after t within the bounds. It is the
// elapse systemd computes, with one rule added for the schedules of
// docs/scheduling.md: a wall time skipped by a spring-forward transition
// runs once, at the first instant after the gap, where systemd skips it.
func (c Calendar) Next(t time.Time) (time.Time, bool) {
	if !c.Start.IsZero() && t.Before(c.Start) {
		t = c.Start.Add(-time.Nanosecond)
	}
	n, ok := c.Event.Next(t)
	limit := n
	if !ok {
		limit = t.AddDate(1, 0, 0) // a one-off time inside a gap
	}
	if g, found := c.gapElapse(t, limit); found && (!ok || g.Before(n)) {
		n, ok = g, true
	}
	if !ok || (!c.End.IsZero() && n.After(c.End)) {
		return time.Time{}, false
	}
	return n, true
}

// gapElapse returns the first transition in (t, limit] that skips wall
// times (spring forward; Pacific/Apia skipped a whole day) among which the
// event matches one: that transition is the first instant after the gap.
func (c Calendar) gapElapse(t, limit time.Time) (time.Time, bool) {
	loc := c.Event.Location()
	cur := t.In(loc)
	for {
		_, end := cur.ZoneBounds()
		if end.IsZero() || end.After(limit) {
			return time.Time{}, false // a fixed zone, or no transition in range
		}
		_, before := end.Add(-time.Nanosecond).Zone()
		_, after := end.Zone()
		if gap := time.Duration(after-before) * time.Second; gap > 0 {
			// On the old offset's clock, the skipped wall times are the
			// instants [end, end+gap).
			old := c.Event.WallIn(time.FixedZone("", before))
			if m, ok := old.Next(end.Add(-time.Nanosecond)); ok && m.Before(end.Add(gap)) {
				return end, true
			}
		}
		cur = end
	}
}

// calendar parses {"type":"calendar","expr":"Mon..Fri 09:00", ...}. The
// normalized form keeps systemd's normalized expression.
func (p *parser) calendar(loc *time.Location) (Trigger, error) {
	if err := p.checkKeys("calendar", "expr", "start_time", "end_time", "timezone"); err != nil {
		return nil, err
	}
	tzName, hasTZ, err := p.str("timezone")
	if err != nil {
		return nil, err
	}
	if hasTZ {
		l, lerr := time.LoadLocation(tzName)
		if lerr != nil || tzName == "" {
			return nil, field.Errorf("timezone", "unknown time zone %q", tzName).
				WithFix("use an IANA zone name such as Europe/Berlin")
		}
		loc = l
	}
	expr, ok, err := p.str("expr")
	if err != nil {
		return nil, err
	}
	if !ok || expr == "" {
		return nil, field.Errorf("expr", "missing calendar expression").
			WithFix(`for example "Mon..Fri *-*-* 09:00" or "daily"; check it with: schedulezero calendar EXPR`)
	}
	ev, err := calendar.Parse(expr, loc)
	if err != nil {
		return nil, err
	}
	p.repeatKey = "expr"
	c := Calendar{Event: ev}
	if c.Start, _, err = p.instant("start_time", loc); err != nil {
		return nil, err
	}
	if c.End, _, err = p.instant("end_time", loc); err != nil {
		return nil, err
	}
	if !c.End.IsZero() && !c.Start.IsZero() && c.End.Before(c.Start) {
		return nil, field.Errorf("end_time", "end_time is before start_time")
	}
	p.out["expr"] = ev.String()
	if name := portableZone(loc); name != "" {
		p.out["timezone"] = name
	}
	return c, nil
}
