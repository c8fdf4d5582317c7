package trigger

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/schedulezero/schedulezero/pkg/field"
)

// Parse validates a trigger object as a REST client sends it
// ({"type":"date",...}) and returns the trigger plus its normalized JSON:
// the form the store keeps. Parsing the normalized JSON again, with any now,
// yields an equal trigger: implicit values (an interval's start_time = now,
// the schedule's zone) are made explicit. loc is the schedule's zone, used
// where the trigger names none; nil means UTC. Errors are *field.Error whose
// Field is the key inside the trigger object ("run_date", "seconds", "hour",
// "expr", "type"), or "" when raw is not an object.
func Parse(raw json.RawMessage, now time.Time, loc *time.Location) (Trigger, json.RawMessage, error) {
	trig, norm, _, err := parse(raw, now, loc, true)
	return trig, norm, err
}

// Compile is Parse without the normalized JSON, for a trigger already
// stored in that form: what the engine does at a schedule's first fire,
// on the timer loop, where encoding a form it throws away was a third of
// the cost.
func Compile(raw json.RawMessage, now time.Time, loc *time.Location) (Trigger, error) {
	trig, _, _, err := parse(raw, now, loc, false)
	return trig, err
}

// parse is Parse that also returns the key that sets the trigger's
// repetition, for the floor of ParseMin; normalize says whether to encode
// the normalized form.
func parse(raw json.RawMessage, now time.Time, loc *time.Location, normalize bool) (Trigger, json.RawMessage, string, error) {
	if loc == nil {
		loc = time.UTC
	}
	now = now.Round(0)
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		return nil, nil, "", field.Errorf("", "trigger must be a JSON object").
			WithFix(`send {"type":"date"|"interval"|"cron", ...}`)
	}
	p := &parser{obj: obj, out: map[string]any{}}
	typ, ok, err := p.str("type")
	if err != nil {
		return nil, nil, "", err
	}
	if !ok {
		return nil, nil, "", field.Errorf("type", "missing trigger type").
			WithFix("set \"type\" to 'date', 'interval', 'cron' or 'calendar'")
	}
	p.out["type"] = typ
	var trig Trigger
	switch typ {
	case "date":
		trig, err = p.date(loc)
	case "interval":
		trig, err = p.interval(now, loc)
	case "cron":
		trig, err = p.cron(now, loc)
	case "calendar":
		trig, err = p.calendar(loc)
	default:
		return nil, nil, "", &field.Error{Field: "type",
			Problem: fmt.Sprintf("Unsupported trigger type '%s'. Use 'date', 'interval', or 'cron' (or 'calendar').", typ)}
	}
	if err != nil {
		return nil, nil, "", err
	}
	if !normalize {
		return trig, nil, p.repeatKey, nil
	}
	norm, err := json.Marshal(p.out)
	if err != nil {
		return nil, nil, "", fmt.Errorf("trigger: encode normalized form: %w", err)
	}
	return trig, norm, p.repeatKey, nil
}

// parser reads the keys of one trigger object and builds its normalized form.
type parser struct {
	obj map[string]json.RawMessage
	out map[string]any
	// repeatKey is the key that sets how often the trigger repeats, named
	// by the floor's error.
	repeatKey string
}

// checkKeys rejects any key outside allowed (and "type").
func (p *parser) checkKeys(typ string, allowed ...string) error {
	var unknown []string
	for k := range p.obj {
		if k != "type" && !contains(allowed, k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	sort.Strings(unknown)
	return field.Errorf(unknown[0], "unknown key for a %s trigger", typ).
		WithFix("allowed keys: %s", strings.Join(allowed, ", "))
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// value decodes key; ok is false when the key is absent or null.
func (p *parser) value(key string) (v any, ok bool, err error) {
	raw, present := p.obj[key]
	if !present {
		return nil, false, nil
	}
	// The common values, a string without escapes and a number, without
	// a json.Decoder (a buffer of its own per value); the rest through
	// one. raw is valid JSON: parse took the object apart with
	// json.Unmarshal.
	if n := len(raw); n >= 2 && raw[0] == '"' && raw[n-1] == '"' && !bytes.ContainsAny(raw[1:n-1], "\\\"") && utf8.Valid(raw) {
		return string(raw[1 : n-1]), true, nil
	}
	if len(raw) > 0 && (raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9') {
		return json.Number(raw), true, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil, false, field.Errorf(key, "invalid JSON value")
	}
	return v, v != nil, nil
}

func (p *parser) str(key string) (string, bool, error) {
	v, ok, err := p.value(key)
	if err != nil || !ok {
		return "", ok, err
	}
	s, isStr := v.(string)
	if !isStr {
		return "", false, field.Errorf(key, "must be a string, not %s", jsonKind(v))
	}
	return s, true, nil
}

func jsonKind(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return "null"
}

func (p *parser) date(loc *time.Location) (Trigger, error) {
	if err := p.checkKeys("date", "run_date"); err != nil {
		return nil, err
	}
	at, ok, err := p.instant("run_date", loc)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, field.Errorf("run_date", "missing run date").WithFix("%s", timeFix)
	}
	return Date{At: at}, nil
}

var intervalUnits = []struct {
	key string
	sec float64
}{{"weeks", 604800}, {"days", 86400}, {"hours", 3600}, {"minutes", 60}, {"seconds", 1}}

func (p *parser) interval(now time.Time, loc *time.Location) (Trigger, error) {
	if err := p.checkKeys("interval", "weeks", "days", "hours", "minutes", "seconds", "start_time", "end_time"); err != nil {
		return nil, err
	}
	total, last := 0.0, "seconds"
	for _, u := range intervalUnits {
		v, ok, err := p.value(u.key)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		var f float64
		switch x := v.(type) {
		case json.Number:
			f, err = x.Float64()
		case string:
			f, err = strconv.ParseFloat(strings.TrimSpace(x), 64)
		default:
			return nil, field.Errorf(u.key, "must be a number, not %s", jsonKind(v))
		}
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, field.Errorf(u.key, "%q is not a number", fmt.Sprint(v))
		}
		last = u.key
		if f != 0 {
			p.out[u.key] = f
		}
		total += f * u.sec
	}
	ns := math.Round(total * 1e9)
	if !(ns >= 1) {
		return nil, field.Errorf(last, "interval must be longer than zero").
			WithFix("give a positive total of weeks, days, hours, minutes and seconds")
	}
	if ns >= math.MaxInt64 {
		return nil, field.Errorf(last, "interval is longer than 292 years")
	}
	p.repeatKey = last
	iv := Interval{Every: time.Duration(ns)}
	var err error
	if iv.Start, iv.End, err = p.bounds(now, loc); err != nil {
		return nil, err
	}
	return iv, nil
}

// bounds reads start_time (default now, made explicit) and end_time.
func (p *parser) bounds(now time.Time, loc *time.Location) (start, end time.Time, err error) {
	start, ok, err := p.instant("start_time", loc)
	if err != nil {
		return start, end, err
	}
	if !ok {
		start = now.In(loc)
		p.out["start_time"] = start.Format(time.RFC3339Nano)
	}
	if end, _, err = p.instant("end_time", loc); err != nil {
		return start, end, err
	}
	if !end.IsZero() && end.Before(start) {
		return start, end, field.Errorf("end_time", "end_time %s is before start_time %s",
			end.Format(time.RFC3339), start.Format(time.RFC3339))
	}
	return start, end, nil
}

func (p *parser) cron(now time.Time, loc *time.Location) (Trigger, error) {
	allowed := append([]string{"expr", "crontab", "start_time", "end_time", "timezone"}, apsFieldOrder...)
	if err := p.checkKeys("cron", allowed...); err != nil {
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
	key := "expr"
	if _, ok := p.obj["crontab"]; ok {
		if _, both := p.obj["expr"]; both {
			return nil, field.Errorf("crontab", "give expr or crontab, not both")
		}
		key = "crontab"
	}
	if _, ok := p.obj[key]; ok {
		return p.crontab(key, now, loc, hasTZ)
	}
	given := map[string]string{}
	p.repeatKey = "second"
	for _, name := range apsFieldOrder {
		v, ok, err := p.value(name)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		switch x := v.(type) {
		case json.Number:
			i, err := x.Int64()
			if err != nil {
				return nil, field.Errorf(name, "%s is not a whole number", x)
			}
			given[name] = strconv.FormatInt(i, 10)
			p.out[name] = i
		case string:
			s := strings.ToLower(strings.TrimSpace(x))
			given[name] = s
			p.out[name] = s
		default:
			return nil, field.Errorf(name, "must be a number or a string, not %s", jsonKind(v))
		}
		p.repeatKey = name
	}
	c, err := compileFields(given, loc)
	if err != nil {
		return nil, err
	}
	return c, p.cronCommon(c, loc)
}

// cronCommon reads the bounds of a cron trigger and records its zone.
func (p *parser) cronCommon(c *Cron, loc *time.Location) error {
	var err error
	if c.start, _, err = p.instant("start_time", loc); err != nil {
		return err
	}
	if c.end, _, err = p.instant("end_time", loc); err != nil {
		return err
	}
	if !c.end.IsZero() && !c.start.IsZero() && c.end.Before(c.start) {
		return field.Errorf("end_time", "end_time is before start_time")
	}
	if name := portableZone(loc); name != "" {
		p.out["timezone"] = name
	}
	return nil
}

func (p *parser) crontab(key string, now time.Time, loc *time.Location, hasTZ bool) (Trigger, error) {
	for _, name := range apsFieldOrder {
		if _, ok := p.obj[name]; ok {
			return nil, field.Errorf(name, "cannot be combined with %s", key).
				WithFix("use either a crontab expression or the fields")
		}
	}
	expr, ok, err := p.str(key)
	if err != nil {
		return nil, err
	}
	if !ok || strings.TrimSpace(expr) == "" {
		return nil, field.Errorf(key, "empty crontab expression").WithFix("write e.g. \"0 9 * * mon-fri\"")
	}
	zone, rest := splitTZ(expr)
	if zone != "" {
		l, err := time.LoadLocation(zone)
		if err != nil {
			return nil, field.Errorf(key, "unknown time zone %q", zone).WithFix("use an IANA zone name such as Europe/Berlin")
		}
		if hasTZ && l.String() != loc.String() {
			return nil, field.Errorf("timezone", "conflicts with %s prefix in %s", zone, key)
		}
		loc = l
	}
	p.out["expr"] = rest
	p.repeatKey = key
	if every, isEvery := strings.CutPrefix(strings.ToLower(rest), "@every"); isEvery {
		d, err := time.ParseDuration(strings.TrimSpace(every))
		if err != nil || d <= 0 {
			return nil, field.Errorf(key, "%q: @every needs a positive Go duration", rest).WithFix("write e.g. \"@every 1h30m\"")
		}
		iv := Interval{Every: d}
		if iv.Start, iv.End, err = p.bounds(now.Add(d), loc); err != nil {
			return nil, err
		}
		if name := portableZone(loc); name != "" {
			p.out["timezone"] = name
		}
		return iv, nil
	}
	c, err := parseCrontab(key, rest, loc)
	if err != nil {
		return nil, err
	}
	return c, p.cronCommon(c, loc)
}

// portableZone returns loc's IANA name, or "" when the name cannot be loaded
// again elsewhere ("Local", fixed zones).
func portableZone(loc *time.Location) string {
	name := loc.String()
	if name == "" || name == "Local" {
		return ""
	}
	if _, err := time.LoadLocation(name); err != nil {
		return ""
	}
	return name
}
