package web

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/schedulezero/schedulezero/pkg/calendar"
	"github.com/schedulezero/schedulezero/pkg/field"
	"github.com/schedulezero/schedulezero/pkg/trigger"
)

type calendarView struct {
	Expr, Zone string
	Cron       bool
	Normalized string
	Next       []time.Time
	Error, Fix string
	ZoneName   string
}

// calendar previews an OnCalendar expression or a crontab line in a zone:
// the next fires as a schedule with that trigger fires (the engine's
// calendar, as schedulezero calendar prints them).
func (s *server) calendar(_ http.ResponseWriter, r *http.Request) (string, any, error) {
	v := calendarView{Expr: trimmed(r, "expr"), Zone: trimmed(r, "tz"), Cron: r.URL.Query().Get("cron") != ""}
	if v.Expr == "" {
		return "calendar", v, nil
	}
	loc := s.loc
	if v.Zone != "" {
		l, err := time.LoadLocation(v.Zone)
		if err != nil {
			v.Error, v.Fix = "zone "+v.Zone+" is not a known time zone", `use an IANA name such as "Europe/Berlin" or "UTC"`
			return "calendar", v, nil
		}
		loc = l
	}
	v.ZoneName = loc.String()
	now := s.now()
	var trig trigger.Trigger
	if v.Cron {
		raw, _ := json.Marshal(map[string]string{"type": "cron", "expr": v.Expr}) // strings always marshal
		t, norm, err := trigger.Parse(raw, now, loc)
		if err != nil {
			v.Error, v.Fix = problem(err)
			return "calendar", v, nil
		}
		var nf struct {
			Expr string `json:"expr"`
		}
		_ = json.Unmarshal(norm, &nf)
		trig, v.Normalized = t, nf.Expr
	} else {
		ev, err := calendar.Parse(v.Expr, loc)
		if err != nil {
			v.Error, v.Fix = problem(err)
			return "calendar", v, nil
		}
		trig, v.Normalized = trigger.Calendar{Event: ev}, ev.String()
	}
	for t, ok := trig.Next(now); ok && len(v.Next) < nextFires; t, ok = trig.Next(t) {
		v.Next = append(v.Next, t.In(loc))
	}
	return "calendar", v, nil
}

func problem(err error) (string, string) {
	var fe *field.Error
	if errors.As(err, &fe) {
		return fe.Problem, fe.Fix
	}
	return err.Error(), ""
}
