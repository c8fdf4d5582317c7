package schedfile

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/schedulezero/schedulezero/pkg/field"
	"github.com/schedulezero/schedulezero/pkg/scheduler/schedtype"
	"github.com/schedulezero/schedulezero/pkg/store"
	"github.com/schedulezero/schedulezero/pkg/trigger"
)

// Kinds of change.
const (
	Create  = "create"
	Change  = "change"
	Replace = "replace" // the handler changed: deleted and created again, history kept
	Delete  = "delete"
)

// Diff is one field that applying changes.
type Diff struct {
	Field    string
	From, To string
}

// Step is what applying does to one schedule.
type Step struct {
	Kind  string
	ID    string
	Def   *Definition // nil for Delete
	Diffs []Diff      // for Change and Replace
	Pause *bool       // set: pause (true) or resume (false) it too
}

// changed reports whether the step changes field.
func (st Step) changed(field string) bool {
	return slices.ContainsFunc(st.Diffs, func(d Diff) bool { return d.Field == field })
}

// Plan is what applying a Set does to the schedules that exist.
type Plan struct {
	Steps     []Step
	Unchanged int
	Invalid   []*Error
	Files     int // schedules the files describe, valid or not
}

// Target is what applying needs of the engine (or of the API, through
// the CLI): api.Backend has these methods.
type Target interface {
	AddSchedule(ctx context.Context, req schedtype.ScheduleRequest) (store.Schedule, error)
	UpdateSchedule(ctx context.Context, id string, u schedtype.ScheduleUpdate) (store.Schedule, error)
	DeleteSchedule(ctx context.Context, id string) error
	PauseSchedule(ctx context.Context, id string) (store.Schedule, error)
	ResumeSchedule(ctx context.Context, id string) (store.Schedule, error)
}

// MakePlan compares the set with the schedules that exist. loc is the
// scheduler's zone, in which triggers of schedules that name none are
// read. A schedule whose file is invalid keeps its last good definition:
// it is neither changed nor deleted. A file takes over an API schedule
// of another file, as an override in /etc takes over from /usr/lib, but
// not one the API manages (created there, or detached): that is reported
// as a conflict, and left alone.
func MakePlan(set *Set, current []store.Schedule, loc *time.Location) *Plan {
	p := &Plan{Invalid: set.Errors(), Files: len(set.Definitions) + len(set.Invalid)}
	byID := make(map[string]store.Schedule, len(current))
	for _, s := range current {
		byID[s.ID] = s
	}
	want := map[string]bool{}
	for _, d := range set.Definitions {
		want[d.ID] = true
		cur, ok := byID[d.ID]
		if !ok {
			p.Steps = append(p.Steps, Step{Kind: Create, ID: d.ID, Def: d, Pause: pauseIf(d.Paused)})
			continue
		}
		if cur.Source == "" {
			p.Invalid = append(p.Invalid, &Error{ID: d.ID, File: d.Path,
				Problem: fmt.Sprintf("schedule %q exists and the API manages it (created there, or detached)", d.ID),
				Fix:     "delete it (schedulezero schedule rm " + d.ID + ") to let the file create it, or remove the file"})
			continue
		}
		diffs := diff(d, cur, loc)
		if cur.Done {
			// A finished schedule (a date that fired) stays finished
			// until its file says something new.
			if len(diffs) == 0 {
				p.Unchanged++
			} else {
				p.Steps = append(p.Steps, Step{Kind: Create, ID: d.ID, Def: d, Diffs: diffs, Pause: pauseIf(d.Paused)})
			}
			continue
		}
		var pause *bool
		if d.Paused != nil && *d.Paused != cur.Paused {
			pause = d.Paused
			diffs = append(diffs, Diff{"Paused", fmt.Sprint(cur.Paused), fmt.Sprint(*d.Paused)})
		}
		switch {
		case len(diffs) == 0:
			p.Unchanged++
		case cur.HandlerID != d.HandlerID:
			p.Steps = append(p.Steps, Step{Kind: Replace, ID: d.ID, Def: d, Diffs: diffs, Pause: pauseIf(d.Paused)})
		default:
			p.Steps = append(p.Steps, Step{Kind: Change, ID: d.ID, Def: d, Diffs: diffs, Pause: pause})
		}
	}
	for _, s := range current {
		if !want[s.ID] && set.Invalid[s.ID] == nil && set.Owns(s.Source) {
			p.Steps = append(p.Steps, Step{Kind: Delete, ID: s.ID})
		}
	}
	slices.SortFunc(p.Invalid, func(a, b *Error) int { return strings.Compare(a.File, b.File) })
	return p
}

func pauseIf(b *bool) *bool {
	if b != nil && *b {
		return b
	}
	return nil
}

// diff lists the fields of cur that d changes.
func diff(d *Definition, cur store.Schedule, loc *time.Location) []Diff {
	var out []Diff
	add := func(name string, from, to any) {
		f, t := fmt.Sprint(from), fmt.Sprint(to)
		out = append(out, Diff{name, f, t})
	}
	if cur.HandlerID != d.HandlerID {
		add("Handler", cur.HandlerID, d.HandlerID)
	}
	if cur.Method != d.Method {
		add("Method", cur.Method, d.Method)
	}
	if !equalJSON(cur.Params, d.Params) {
		add("Params", string(cur.Params), string(d.Params))
	}
	if cur.Timezone != d.Timezone {
		add("TimeZone", cur.Timezone, d.Timezone)
	}
	if !sameTrigger(d.Trigger, cur.Trigger, d.Timezone, loc) {
		add("Trigger", string(cur.Trigger), string(d.Trigger))
	}
	if cur.MaxAttempts != d.MaxAttempts {
		add("Retries", retries(cur.MaxAttempts), retries(d.MaxAttempts))
	}
	if cur.Timeout != d.Timeout {
		add("Timeout", formatSpan(cur.Timeout), formatSpan(d.Timeout))
	}
	if !samePolicy(cur.Policy, d.Policy) {
		a, _ := json.Marshal(cur.Policy)
		b, _ := json.Marshal(d.Policy)
		add("Policy", string(a), string(b))
	}
	if cur.Source != d.Source() {
		add("Source", cur.Source, d.Source())
	}
	return out
}

func retries(maxAttempts int) string {
	if maxAttempts == 0 {
		return "(default)"
	}
	return fmt.Sprint(maxAttempts - 1)
}

func samePolicy(a, b store.Policy) bool {
	if len(a.RetryOn) == 0 {
		a.RetryOn = nil
	}
	if len(b.RetryOn) == 0 {
		b.RetryOn = nil
	}
	if len(a.On) == 0 {
		a.On = nil
	}
	if len(b.On) == 0 {
		b.On = nil
	}
	return reflect.DeepEqual(a, b)
}

// sameTrigger reports whether the file's trigger is the stored one: both
// normalized by the engine's parser, leaving out an interval's start,
// which the engine made explicit when the file did not say it.
//
// A stored trigger of a schedule that names no zone carries the zone the
// scheduler gave it, which the client may not know: it is read in that.
func sameTrigger(want, stored json.RawMessage, zone string, loc *time.Location) bool {
	var w, n, s map[string]any
	if json.Unmarshal(want, &w) != nil || json.Unmarshal(stored, &s) != nil {
		return false
	}
	_, wantZone := w["timezone"]
	storedZone, _ := s["timezone"].(string)
	switch {
	case zone != "":
		if l, err := time.LoadLocation(zone); err == nil {
			loc = l
		}
	case !wantZone && storedZone != "":
		if l, err := time.LoadLocation(storedZone); err == nil {
			loc = l
		}
	}
	_, norm, err := trigger.Parse(want, time.Now(), loc)
	if err != nil || json.Unmarshal(norm, &n) != nil {
		return false
	}
	if _, given := w["start_time"]; !given {
		delete(n, "start_time")
		delete(s, "start_time")
	}
	a, _ := json.Marshal(n)
	b, _ := json.Marshal(s)
	return bytes.Equal(a, b)
}

// Result is what Apply did.
type Result struct {
	Created, Changed, Deleted int
	Failed                    []*Error // steps the engine refused, by file
}

// Apply carries out the plan's steps, each on its own: one the engine
// refuses is reported, and the others go on.
func Apply(ctx context.Context, t Target, p *Plan) Result {
	var r Result
	for _, st := range p.Steps {
		var err error
		switch st.Kind {
		case Create:
			_, err = t.AddSchedule(ctx, st.Def.Request())
			if err == nil {
				r.Created++
			}
		case Replace:
			if err = t.DeleteSchedule(ctx, st.ID); err == nil || errors.Is(err, store.ErrNotFound) {
				if _, err = t.AddSchedule(ctx, st.Def.Request()); err == nil {
					r.Changed++
				}
			}
		case Change:
			_, err = t.UpdateSchedule(ctx, st.ID, st.Def.Update(st.changed))
			if err == nil {
				r.Changed++
			}
		case Delete:
			if err = t.DeleteSchedule(ctx, st.ID); err == nil || errors.Is(err, store.ErrNotFound) {
				err = nil
				r.Deleted++
			}
		}
		if err == nil && st.Pause != nil {
			if *st.Pause {
				_, err = t.PauseSchedule(ctx, st.ID)
			} else {
				_, err = t.ResumeSchedule(ctx, st.ID)
			}
		}
		if err != nil {
			r.Failed = append(r.Failed, engineError(st, err))
		}
	}
	return r
}

// engineKeys maps the engine's field names to the file's keys.
var engineKeys = map[string]string{
	"handler_id": "Handler", "job_method": "Method", "job_params": "Params", "timezone": "TimeZone",
	"max_attempts": "Retries", "timeout": "Timeout", "trigger": "trigger",
}

// engineError reports an error of the engine about a step at the key it
// concerns, where the definition assigned it.
func engineError(st Step, err error) *Error {
	if st.Def == nil {
		return &Error{ID: st.ID, Problem: fmt.Sprintf("delete: %v", err), Err: err}
	}
	key, problem, fix := "", err.Error(), ""
	var fe *field.Error
	if errors.As(err, &fe) {
		root, _, _ := strings.Cut(fe.Field, ".")
		key, problem, fix = engineKeys[root], fe.Problem, fe.Fix
		if k, ok := policyKeys[strings.TrimPrefix(fe.Field, "policy.")]; ok {
			key = k
		}
	} else if errors.Is(err, store.ErrNotFound) && strings.Contains(err.Error(), "handler") {
		key, fix = "Handler", "start the handler (schedulezero handlers), or name one that is registered"
	}
	e := st.Def.errAt(key, problem, fix)
	e.Err = err
	if key == "trigger" {
		e.Key = st.Def.at["trigger"].Key
	}
	return e
}

// Summary is one line of what a reload did, for STATUS= and the journal:
// "3 schedules from files: 1 created, 1 changed, 0 deleted; 1 invalid:
// backup.schedule:7: ...".
func Summary(p *Plan, r Result) string {
	s := fmt.Sprintf("%d schedules from files: %d created, %d changed, %d deleted", p.Files, r.Created, r.Changed, r.Deleted)
	bad := slices.Concat(p.Invalid, r.Failed)
	if len(bad) > 0 {
		s += fmt.Sprintf("; %d invalid:", len(bad))
		for i, e := range bad {
			if i == 3 {
				s += fmt.Sprintf(" and %d more", len(bad)-3)
				break
			}
			s += " " + e.Short()
			if i < len(bad)-1 && i < 2 {
				s += ";"
			}
		}
	}
	return s
}

// String writes the plan as people read it: one line a step, the fields
// of a change indented below it.
func (p *Plan) String() string {
	var b strings.Builder
	for _, st := range p.Steps {
		src := ""
		if st.Def != nil {
			src = "  (" + st.Def.Path + ")"
		}
		fmt.Fprintf(&b, "%-7s %s%s\n", st.Kind, st.ID, src)
		for _, d := range st.Diffs {
			fmt.Fprintf(&b, "          %s: %s -> %s\n", d.Field, orNone(d.From), orNone(d.To))
		}
	}
	for _, e := range p.Invalid {
		fmt.Fprintf(&b, "invalid %s\n", e)
	}
	fmt.Fprintf(&b, "%d to create, %d to change, %d to delete, %d unchanged, %d invalid\n",
		p.count(Create), p.count(Change)+p.count(Replace), p.count(Delete), p.Unchanged, len(p.Invalid))
	return b.String()
}

func (p *Plan) count(kind string) int {
	n := 0
	for _, st := range p.Steps {
		if st.Kind == kind {
			n++
		}
	}
	return n
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
