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

// Next returns the first elapse after t within the bounds.
func (c Calendar) Next(t time.Time) (time.Time, bool) {
	if !c.Start.IsZero() && t.Before(c.Start) {
		t = c.Start.Add(-time.Nanosecond)
	}
	n, ok := c.Event.Next(t)
	if !ok || (!c.End.IsZero() && n.After(c.End)) {
		return time.Time{}, false
	}
	return n, true
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
