package schedfile

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/schedulezero/schedulezero/pkg/api"
	"github.com/schedulezero/schedulezero/pkg/handlername"
	"github.com/schedulezero/schedulezero/pkg/scheduler/schedtype"
	"github.com/schedulezero/schedulezero/pkg/store"
	"github.com/schedulezero/schedulezero/pkg/trigger"
)

// Definition is one schedule as its files define it, merged.
type Definition struct {
	ID      string
	Path    string   // the NAME.schedule file
	DropIns []string // the NAME.schedule.d/*.conf files, in the order applied

	Description string
	HandlerID   string
	Method      string
	Params      json.RawMessage // a JSON object, or nil
	Trigger     json.RawMessage // the trigger object, as the API takes it
	Timezone    string
	MaxAttempts int // 0: the scheduler's default
	Timeout     time.Duration
	Policy      store.Policy
	Paused      *bool // nil: the file does not say

	at map[string]option // the assignment that decided each key
}

// Source is the store's mark of a schedule this file manages.
func (d *Definition) Source() string { return api.SourceFilePrefix + d.Path }

// Request is the definition as the engine's create request: the one place
// a file becomes an API schedule.
func (d *Definition) Request() schedtype.ScheduleRequest {
	return schedtype.ScheduleRequest{
		ID: d.ID, HandlerID: d.HandlerID, Method: d.Method, Params: d.Params, Trigger: d.Trigger,
		Timezone: d.Timezone, MaxAttempts: d.MaxAttempts, Timeout: d.Timeout, Policy: d.Policy,
		Source: d.Source(),
	}
}

// Update is the definition as an edit of the schedule in place. Every
// field is set, so that what the file left out goes back to its default,
// but the trigger and the zone only when changed says they changed: an
// edit of either computes the next fire again, from now.
func (d *Definition) Update(changed func(field string) bool) schedtype.ScheduleUpdate {
	r := d.Request()
	params := r.Params
	if params == nil {
		params = json.RawMessage("{}")
	}
	pol := r.Policy
	u := schedtype.ScheduleUpdate{
		Method: &r.Method, Params: params, MaxAttempts: &r.MaxAttempts, Timeout: &r.Timeout, Policy: &pol, Source: &r.Source,
	}
	if changed("TimeZone") {
		u.Timezone = &r.Timezone
	}
	if changed("Trigger") || changed("TimeZone") {
		u.Trigger = r.Trigger
	}
	return u
}

// errAt reports a problem with key where it was assigned (or the file).
func (d *Definition) errAt(key, problem, fix string) *Error {
	o, ok := d.at[key]
	if !ok {
		return &Error{ID: d.ID, File: d.Path, Key: key, Problem: problem, Fix: fix}
	}
	return &Error{ID: d.ID, File: o.File, Line: o.Line, Key: key, Problem: problem, Fix: fix}
}

// Trigger keys: a schedule has exactly one. OnCalendar= and
// OnUnitActiveSec= are systemd.timer's (a calendar event; a period
// counted from the last run), Cron= and RunDate= ours, and Trigger= takes
// any trigger object the API takes, as JSON.
var triggerKeys = []string{"OnCalendar", "OnUnitActiveSec", "Cron", "RunDate", "Trigger"}

// scalarKeys are the keys with one value, the last assignment winning.
var scalarKeys = []string{"Description", "Handler", "Method", "Params", "TimeZone", "StartTime", "EndTime",
	"Retries", "Timeout", "Persistent", "Misfire", "MisfireLimit", "AccuracySec", "Overlap", "QueueLimit",
	"RandomizedDelaySec", "FixedRandomDelay", "RandomizedOffsetSec", "MaxRuns", "Backoff", "BackoffMax", "Paused",
	"OnFailure", "OnMissed", "OnRecovery", "OnDeadMan", "DeadManAfterSec"}

// Keys lists every key a schedule file may hold.
func Keys() []string {
	return slices.Concat(triggerKeys, scalarKeys, []string{"RetryOn", "On"})
}

// build merges the assignments of a file and its drop-ins, in order, into
// a definition, and checks it.
func build(id, path string, dropIns []string, opts []option) (*Definition, *Error) {
	d := &Definition{ID: id, Path: path, DropIns: dropIns, at: map[string]option{}}
	var trig []option
	var retryOn, on []string
	for _, o := range opts {
		switch {
		case slices.Contains(triggerKeys, o.Key):
			if o.Value == "" {
				trig = nil // as systemd.timer: an empty assignment resets the triggers
				continue
			}
			trig = append(trig, o)
		case o.Key == "RetryOn":
			d.at[o.Key] = o
			if o.Value == "" {
				retryOn = nil
				continue
			}
			retryOn = append(retryOn, strings.Fields(o.Value)...)
		case o.Key == "On":
			// Where attempts run: KEY=VALUE labels an instance of the
			// handler must have, all of them (the CLI's --on).
			d.at[o.Key] = o
			if o.Value == "" {
				on = nil
				continue
			}
			for _, c := range strings.Fields(o.Value) {
				if _, _, err := handlername.ParseLabel(c); err != nil {
					return nil, onError(id, o, err)
				}
				on = append(on, c)
			}
		case slices.Contains(scalarKeys, o.Key):
			d.at[o.Key] = o
		default:
			return nil, &Error{ID: id, File: o.File, Line: o.Line, Key: o.Key, Problem: "is not a schedule key",
				Fix: suggest(o.Key)}
		}
	}
	switch len(trig) {
	case 0:
		return nil, &Error{ID: id, File: path, Problem: "has no trigger",
			Fix: "set one of " + strings.Join(triggerKeys, "=, ") + "=, e.g. OnCalendar=daily"}
	case 1:
	default:
		o := trig[len(trig)-1]
		return nil, &Error{ID: id, File: o.File, Line: o.Line, Key: o.Key,
			Problem: fmt.Sprintf("is a second trigger (the first is %s= at %s:%d)", trig[0].Key, trig[0].File, trig[0].Line),
			Fix:     "a schedule has one trigger; to replace it in a drop-in, reset it first with an empty OnCalendar= line, as for systemd timers"}
	}
	d.at["trigger"] = trig[0]
	if e := d.fields(trig[0], retryOn, on); e != nil {
		return nil, e
	}
	return d, nil
}

// fields reads the keys into d and checks them.
func (d *Definition) fields(trig option, retryOn, on []string) *Error {
	get := func(k string) (string, bool) {
		o, ok := d.at[k]
		return o.Value, ok && o.Value != ""
	}
	d.Description, _ = get("Description")
	var ok bool
	if d.HandlerID, ok = get("Handler"); !ok {
		return d.errAt("Handler", "is required", "name the handler that runs the job, e.g. Handler=backup")
	}
	if d.Method, ok = get("Method"); !ok {
		return d.errAt("Method", "is required", "name one of the handler's methods, e.g. Method=run")
	}
	if v, ok := get("Params"); ok {
		if !json.Valid([]byte(v)) || !strings.HasPrefix(strings.TrimSpace(v), "{") {
			return d.errAt("Params", "is not a JSON object", `write e.g. Params={"target": "nas"}`)
		}
		d.Params = json.RawMessage(v)
	}
	d.Timezone, ok = get("TimeZone")
	if ok {
		if _, err := time.LoadLocation(d.Timezone); err != nil {
			return d.errAt("TimeZone", fmt.Sprintf("%q is not a known time zone", d.Timezone), `use an IANA name such as "Europe/Berlin" or "UTC"`)
		}
	}
	spans := []struct {
		key string
		out *time.Duration
	}{{"Timeout", &d.Timeout}, {"AccuracySec", &d.Policy.GraceTime}, {"RandomizedDelaySec", &d.Policy.RandomDelay},
		{"RandomizedOffsetSec", &d.Policy.RandomOffset}, {"Backoff", &d.Policy.Backoff}, {"BackoffMax", &d.Policy.BackoffMax},
		{"DeadManAfterSec", &d.Policy.DeadManAfter}}
	for _, s := range spans {
		if v, ok := get(s.key); ok {
			dur, err := ParseSpan(v)
			if err != nil {
				return d.errAt(s.key, err.Error(), spanFix)
			}
			*s.out = dur
		}
	}
	ints := []struct {
		key string
		max int64
		set func(int64)
	}{
		{"Retries", 99, func(n int64) { d.MaxAttempts = int(n) + 1 }},
		{"MisfireLimit", 100000, func(n int64) { d.Policy.MisfireLimit = int(n) }},
		{"QueueLimit", 10000, func(n int64) { d.Policy.QueueLimit = int(n) }},
		{"MaxRuns", 1 << 62, func(n int64) { d.Policy.MaxRuns = n }},
	}
	for _, i := range ints {
		if v, ok := get(i.key); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 || n > i.max {
				return d.errAt(i.key, fmt.Sprintf("%q is not a whole number from 0 to %d", v, i.max), "write e.g. "+i.key+"=3")
			}
			i.set(n)
		}
	}
	bools := map[string]*bool{}
	for _, k := range []string{"Persistent", "FixedRandomDelay", "Paused"} {
		if v, ok := get(k); ok {
			b, err := parseBool(v)
			if err != nil {
				return d.errAt(k, err.Error(), "write yes or no")
			}
			bools[k] = &b
		}
	}
	d.Paused = bools["Paused"]
	misfire, hasMisfire := get("Misfire")
	if p := bools["Persistent"]; p != nil {
		if hasMisfire {
			return d.errAt("Misfire", "is set together with Persistent=", "use one: Persistent=yes is Misfire=once, Persistent=no is Misfire=skip")
		}
		misfire = store.MisfireSkip
		if *p {
			misfire = store.MisfireOnce
		}
	}
	d.Policy.Misfire = misfire
	d.Policy.Overlap, _ = get("Overlap")
	d.Policy.OnFailure, _ = get("OnFailure")
	d.Policy.OnMissed, _ = get("OnMissed")
	d.Policy.OnRecovery, _ = get("OnRecovery")
	d.Policy.OnDeadMan, _ = get("OnDeadMan")
	if f := bools["FixedRandomDelay"]; f != nil && *f {
		// systemd's fixed random delay is a stable shift: our offset.
		if d.Policy.RandomOffset != 0 {
			return d.errAt("FixedRandomDelay", "is set together with RandomizedOffsetSec=", "use one of them")
		}
		d.Policy.RandomOffset, d.Policy.RandomDelay = d.Policy.RandomDelay, 0
	}
	d.Policy.RetryOn = retryOn
	d.Policy.On = on
	if err := d.Policy.Validate(); err != nil {
		return d.policyError(err)
	}
	return d.trigger(trig)
}

// policyKeys maps the policy's JSON names to the file's keys.
var policyKeys = map[string]string{
	"misfire": "Misfire", "misfire_limit": "MisfireLimit", "grace_time": "AccuracySec", "overlap": "Overlap",
	"queue_limit": "QueueLimit", "random_delay": "RandomizedDelaySec", "random_offset": "RandomizedOffsetSec",
	"max_runs": "MaxRuns", "backoff": "Backoff", "backoff_max": "BackoffMax", "retry_on": "RetryOn", "on": "On",
	"on_failure": "OnFailure", "on_missed": "OnMissed", "on_recovery": "OnRecovery", "on_dead_man": "OnDeadMan",
	"dead_man_after": "DeadManAfterSec",
}

func (d *Definition) policyError(err error) *Error {
	key, problem, fix := "", err.Error(), ""
	if fe := asField(err); fe != nil {
		key, problem, fix = policyKeys[fe.Field], fe.Problem, fe.Fix
		if key == "Misfire" && d.at["Misfire"].Key == "" {
			key = "Persistent"
		}
	}
	return d.errAt(key, problem, fix)
}

// trigger builds the trigger object and checks it with the engine's parser.
func (d *Definition) trigger(o option) *Error {
	obj := map[string]any{}
	switch o.Key {
	case "OnCalendar":
		obj["type"], obj["expr"] = "calendar", o.Value
	case "Cron":
		obj["type"], obj["expr"] = "cron", o.Value
	case "RunDate":
		obj["type"], obj["run_date"] = "date", o.Value
	case "OnUnitActiveSec":
		every, err := ParseSpan(o.Value)
		if err != nil || every <= 0 {
			return d.errAt("trigger", fmt.Sprintf("%q is not a positive time span", o.Value), spanFix).withKey(o.Key)
		}
		obj["type"], obj["seconds"] = "interval", json.Number(strconv.FormatFloat(every.Seconds(), 'f', -1, 64))
	case "Trigger":
		dec := json.NewDecoder(strings.NewReader(o.Value))
		dec.UseNumber()
		if err := dec.Decode(&obj); err != nil || obj == nil {
			return d.errAt("trigger", "is not a JSON object", `write e.g. Trigger={"type": "cron", "hour": "*/2"}`).withKey(o.Key)
		}
	}
	for _, k := range []string{"StartTime", "EndTime"} {
		if v, ok := d.at[k]; ok && v.Value != "" {
			if o.Key == "RunDate" {
				return d.errAt(k, "does not apply to RunDate=", "remove it")
			}
			obj[map[string]string{"StartTime": "start_time", "EndTime": "end_time"}[k]] = v.Value
		}
	}
	raw, err := json.Marshal(obj)
	if err != nil {
		return d.errAt("trigger", err.Error(), "").withKey(o.Key)
	}
	d.Trigger = raw
	loc := time.UTC
	if d.Timezone != "" {
		loc, _ = time.LoadLocation(d.Timezone)
	}
	if _, _, err := trigger.Parse(raw, time.Now(), loc); err != nil {
		key := o.Key
		fix := ""
		if fe := asField(err); fe != nil {
			fix = fe.Fix
			switch fe.Field {
			case "start_time":
				key = "StartTime"
			case "end_time":
				key = "EndTime"
			}
			err = fmt.Errorf("%s", fe.Problem)
		}
		if o.Key == "OnCalendar" && fix == "" {
			fix = "check it with: schedulezero calendar '" + o.Value + "'"
		}
		if key == o.Key {
			return d.errAt("trigger", err.Error(), fix).withKey(key)
		}
		return d.errAt(key, err.Error(), fix)
	}
	return nil
}

func (e *Error) withKey(k string) *Error { e.Key = k; return e }

// suggest names the key closest to an unknown one.
func suggest(k string) string {
	best, score := "", 3
	for _, c := range Keys() {
		if s := distance(strings.ToLower(k), strings.ToLower(c)); s < score {
			best, score = c, s
		}
	}
	if best != "" {
		return "did you mean " + best + "=? see docs/scheduling.md for the keys"
	}
	return "see docs/scheduling.md for the keys"
}

// distance is the Levenshtein distance of a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// equalJSON reports whether a and b hold the same JSON value (empty and
// null being no value, and an empty object too).
func equalJSON(a, b json.RawMessage) bool {
	norm := func(r json.RawMessage) any {
		r = bytes.TrimSpace(r)
		if len(r) == 0 {
			return nil
		}
		var v any
		dec := json.NewDecoder(bytes.NewReader(r))
		dec.UseNumber()
		if dec.Decode(&v) != nil {
			return string(r)
		}
		if m, ok := v.(map[string]any); ok && len(m) == 0 {
			return nil
		}
		return v
	}
	x, y := norm(a), norm(b)
	xj, _ := json.Marshal(x)
	yj, _ := json.Marshal(y)
	return bytes.Equal(xj, yj)
}

// onError is the error of an On= line whose constraint is not KEY=VALUE
// with a valid label key and value.
func onError(id string, o option, err error) *Error {
	problem, fix := err.Error(), "write On=KEY=VALUE, e.g. On=zone=b (one label per assignment, or several separated by spaces)"
	if fe := asField(err); fe != nil {
		problem = fe.Problem
		if fe.Fix != "" {
			fix = fe.Fix + ", e.g. On=zone=b"
		}
	}
	return &Error{ID: id, File: o.File, Line: o.Line, Key: o.Key, Problem: problem, Fix: fix}
}
