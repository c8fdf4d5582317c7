package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// cronFields are the original's cron fields, most significant first, with
// the value APScheduler gives a field after the last one set.
var cronFields = []struct{ name, def string }{
	{"year", "*"}, {"month", "1"}, {"day", "1"}, {"week", "*"},
	{"day_of_week", "*"}, {"hour", "0"}, {"minute", "0"}, {"second", "0"},
}

// legacyTrigger renders a normalized trigger the way the original's
// GET /api/schedules did: str() of its APScheduler 4 trigger, e.g.
//
//	DateTrigger('2026-01-02 03:04:05+00:00')
//	IntervalTrigger(seconds=10, start_time='2026-01-02 03:04:05.123456+00:00')
//	CronTrigger(year='*', month='*', day='*', week='*', day_of_week='*', hour='*', minute='*/2', second='0', start_time='2026-01-02T03:04:05+00:00', timezone='UTC')
//
// created stands in for the start_time APScheduler set to the creation time
// when none was given. Our calendar type, which the original lacked, reads
// CalendarTrigger(expr='...', timezone='...'). Anything unreadable is
// rendered as its JSON text.
func legacyTrigger(raw json.RawMessage, created time.Time) string {
	var t map[string]json.RawMessage
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(&t); err != nil {
		return string(raw)
	}
	str := func(k string) string {
		var s string
		if json.Unmarshal(t[k], &s) == nil {
			return s
		}
		var n json.Number
		if json.Unmarshal(t[k], &n) == nil {
			return n.String()
		}
		return strings.TrimSpace(string(t[k]))
	}
	zone := time.UTC
	if tz := str("timezone"); tz != "" {
		if l, err := time.LoadLocation(tz); err == nil {
			zone = l
		}
	}
	when := func(k string, iso bool) string {
		v := str(k)
		ts, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return pyRepr(v)
		}
		return pyRepr(pyTime(ts, iso))
	}
	var args []string
	switch str("type") {
	case "date":
		return fmt.Sprintf("DateTrigger(%s)", when("run_date", false))
	case "interval":
		for _, k := range []string{"weeks", "days", "hours", "minutes", "seconds"} {
			if f, err := strconv.ParseFloat(str(k), 64); err == nil && f > 0 {
				args = append(args, k+"="+str(k))
			}
		}
		args = append(args, "start_time="+when("start_time", false))
		if _, ok := t["end_time"]; ok {
			args = append(args, "end_time="+when("end_time", false))
		}
		return fmt.Sprintf("IntervalTrigger(%s)", strings.Join(args, ", "))
	case "cron":
		vals := cronValues(t, str)
		for _, f := range cronFields {
			args = append(args, f.name+"="+pyRepr(vals[f.name]))
		}
		if _, ok := t["start_time"]; ok {
			args = append(args, "start_time="+when("start_time", true))
		} else {
			args = append(args, "start_time="+pyRepr(pyTime(created.In(zone), true)))
		}
		if _, ok := t["end_time"]; ok {
			args = append(args, "end_time="+when("end_time", true))
		}
		args = append(args, "timezone="+pyRepr(zone.String()))
		return fmt.Sprintf("CronTrigger(%s)", strings.Join(args, ", "))
	case "calendar":
		return fmt.Sprintf("CalendarTrigger(expr=%s, timezone=%s)", pyRepr(str("expr")), pyRepr(zone.String()))
	}
	return string(raw)
}

// cronValues gives every cron field its value: the ones set, "*" before the
// last one set and APScheduler's default after it. A crontab line ("expr")
// sets minute, hour, day, month and day_of_week, and second 0, as
// APScheduler's from_crontab.
func cronValues(t map[string]json.RawMessage, str func(string) string) map[string]string {
	set := map[string]string{}
	if e := str("expr"); e != "" {
		fs := strings.Fields(e)
		if len(fs) == 5 {
			fs = append([]string{"0"}, fs...)
		}
		if len(fs) == 6 {
			set = map[string]string{"second": fs[0], "minute": fs[1], "hour": fs[2], "day": fs[3], "month": fs[4], "day_of_week": fs[5]}
		}
	}
	for _, f := range cronFields {
		if _, ok := t[f.name]; ok {
			set[f.name] = str(f.name)
		}
	}
	last := -1
	for i, f := range cronFields {
		if _, ok := set[f.name]; ok {
			last = i
		}
	}
	out := map[string]string{}
	for i, f := range cronFields {
		switch v, ok := set[f.name]; {
		case ok:
			out[f.name] = v
		case i > last:
			out[f.name] = f.def
		default:
			out[f.name] = "*"
		}
	}
	return out
}

// pyTime is Python's str(datetime) (iso false: a space between date and
// time) or isoformat() (iso true), with microseconds only when non-zero.
func pyTime(t time.Time, iso bool) string {
	sep := " "
	if iso {
		sep = "T"
	}
	s := t.Format("2006-01-02" + sep + "15:04:05")
	if us := t.Nanosecond() / 1000; us != 0 {
		s += fmt.Sprintf(".%06d", us)
	}
	return s + t.Format("-07:00")
}

// pyRepr is Python's repr of a str: single quotes unless the text holds
// one and no double quote.
func pyRepr(s string) string {
	if strings.Contains(s, "'") && !strings.Contains(s, `"`) {
		return `"` + s + `"`
	}
	return "'" + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), "'", `\'`) + "'"
}
