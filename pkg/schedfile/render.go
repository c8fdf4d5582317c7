package schedfile

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/schedulezero/schedulezero/pkg/store"
)

// RenderOptions tune Render.
type RenderOptions struct {
	// DefaultZone is the scheduler's zone (GET /api/config "timezone"): a
	// trigger in it, of a schedule that names no zone, took it from the
	// scheduler and needs no zone in the file.
	DefaultZone string
	// Comment is the file's first line, after "# "; empty: "ID.schedule:
	// exported by schedulezero schedule export".
	Comment string
}

// Render writes s as a schedule file that applies back to the same
// schedule: systemd's keys where the trigger has their form, Trigger=
// with the JSON object otherwise.
func Render(s store.Schedule, o RenderOptions) []byte {
	var b bytes.Buffer
	w := func(k, v string) { fmt.Fprintf(&b, "%s=%s\n", k, v) }
	if o.Comment == "" {
		o.Comment = s.ID + Suffix + ": exported by schedulezero schedule export"
	}
	for _, l := range strings.Split(o.Comment, "\n") {
		b.WriteString(strings.TrimRight("# "+l, " ") + "\n")
	}
	b.WriteString("[" + Section + "]\n")
	w("Handler", s.HandlerID)
	w("Method", s.Method)
	if len(bytes.TrimSpace(s.Params)) > 0 && !equalJSON(s.Params, nil) {
		var c bytes.Buffer
		if json.Compact(&c, s.Params) == nil {
			w("Params", c.String())
		}
	}
	if s.Timezone != "" {
		w("TimeZone", s.Timezone)
	}
	for _, kv := range renderTrigger(s.Trigger, s.Timezone, o.DefaultZone) {
		w(kv[0], kv[1])
	}
	if s.MaxAttempts > 0 {
		w("Retries", fmt.Sprint(s.MaxAttempts-1))
	}
	if s.Timeout > 0 {
		w("Timeout", formatSpan(s.Timeout))
	}
	p := s.Policy
	switch p.Misfire {
	case store.MisfireOnce:
		w("Persistent", "yes")
	case store.MisfireSkip:
		w("Persistent", "no")
	case "":
	default:
		w("Misfire", p.Misfire)
	}
	ints := []struct {
		k string
		v int64
	}{{"MisfireLimit", int64(p.MisfireLimit)}, {"QueueLimit", int64(p.QueueLimit)}, {"MaxRuns", p.MaxRuns}}
	spans := []struct {
		k string
		v time.Duration
	}{{"AccuracySec", p.GraceTime}, {"RandomizedDelaySec", p.RandomDelay}, {"RandomizedOffsetSec", p.RandomOffset},
		{"Backoff", p.Backoff}, {"BackoffMax", p.BackoffMax}, {"DeadManAfterSec", p.DeadManAfter}}
	if p.Overlap != "" {
		w("Overlap", p.Overlap)
	}
	for _, i := range ints {
		if i.v != 0 {
			w(i.k, fmt.Sprint(i.v))
		}
	}
	for _, sp := range spans {
		if sp.v != 0 {
			w(sp.k, formatSpan(sp.v))
		}
	}
	if len(p.RetryOn) > 0 {
		w("RetryOn", strings.Join(p.RetryOn, " "))
	}
	for _, c := range p.On {
		w("On", c)
	}
	for _, t := range [][2]string{{"OnFailure", p.OnFailure}, {"OnMissed", p.OnMissed}, {"OnRecovery", p.OnRecovery}, {"OnDeadMan", p.OnDeadMan}} {
		if t[1] != "" {
			w(t[0], t[1])
		}
	}
	if s.Paused {
		w("Paused", "yes")
	}
	return b.Bytes()
}

// renderTrigger returns the trigger's keys and values.
func renderTrigger(raw json.RawMessage, zone, defaultZone string) [][2]string {
	var obj map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	fallback := func() [][2]string {
		var c bytes.Buffer
		_ = json.Compact(&c, raw)
		return [][2]string{{"Trigger", c.String()}}
	}
	if dec.Decode(&obj) != nil {
		return fallback()
	}
	str := func(k string) string { s, _ := obj[k].(string); return s }
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	only := func(allowed ...string) bool {
		for _, k := range keys {
			if !slices.Contains(allowed, k) {
				return false
			}
		}
		return true
	}
	// A trigger's own zone is said by TimeZone= when it is the
	// schedule's, or the scheduler's for a schedule that names none.
	zoneOK := func() bool {
		tz := str("timezone")
		return tz == "" || tz == zone || (zone == "" && tz == defaultZone)
	}
	var out [][2]string
	bounds := func() {
		if v := str("start_time"); v != "" {
			out = append(out, [2]string{"StartTime", v})
		}
		if v := str("end_time"); v != "" {
			out = append(out, [2]string{"EndTime", v})
		}
	}
	switch str("type") {
	case "calendar":
		if !only("type", "expr", "timezone", "start_time", "end_time") || !zoneOK() || str("expr") == "" {
			return fallback()
		}
		out = append(out, [2]string{"OnCalendar", str("expr")})
	case "cron":
		if !only("type", "expr", "timezone", "start_time", "end_time") || !zoneOK() || str("expr") == "" ||
			strings.HasPrefix(strings.ToLower(str("expr")), "@every") {
			return fallback()
		}
		out = append(out, [2]string{"Cron", str("expr")})
	case "date":
		if !only("type", "run_date") || str("run_date") == "" {
			return fallback()
		}
		return [][2]string{{"RunDate", str("run_date")}}
	case "interval":
		if !only("type", "weeks", "days", "hours", "minutes", "seconds", "start_time", "end_time") {
			return fallback()
		}
		every, ok := intervalOf(obj)
		if !ok {
			return fallback()
		}
		out = append(out, [2]string{"OnUnitActiveSec", formatSpan(every)})
	default:
		return fallback()
	}
	bounds()
	return out
}

// intervalOf is the period of an interval trigger object, when the file's
// span can say it exactly (whole nanoseconds, as the engine rounds it).
func intervalOf(obj map[string]any) (time.Duration, bool) {
	// The engine's order and rounding (trigger.Parse), so the sum is its.
	units := []struct {
		k   string
		sec float64
	}{{"weeks", 604800}, {"days", 86400}, {"hours", 3600}, {"minutes", 60}, {"seconds", 1}}
	total := 0.0
	for _, u := range units {
		k, sec := u.k, u.sec
		v, ok := obj[k]
		if !ok {
			continue
		}
		n, ok := v.(json.Number)
		if !ok {
			return 0, false
		}
		f, err := n.Float64()
		if err != nil {
			return 0, false
		}
		total += f * sec
	}
	d := time.Duration(math.Round(total * 1e9))
	if d <= 0 {
		return 0, false
	}
	return d, true
}
