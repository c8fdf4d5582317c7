package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/schedulezero/schedulezero/pkg/field"
	"github.com/schedulezero/schedulezero/pkg/store"
)

// Policy is the JSON form of store.Policy in requests and responses:
// durations are Go duration strings ("30s", "5m") and zero fields are left
// out. See docs/scheduling.md for what each field means.
type Policy struct {
	Misfire      string   `json:"misfire,omitempty"`       // skip | once (default) | all
	MisfireLimit int      `json:"misfire_limit,omitempty"` // with "all"; default 100
	GraceTime    string   `json:"grace_time,omitempty"`    // later than this is a misfire; default 1s
	Overlap      string   `json:"overlap,omitempty"`       // skip (default) | allow | queue | replace
	QueueLimit   int      `json:"queue_limit,omitempty"`   // with "queue"; default 10
	RandomDelay  string   `json:"random_delay,omitempty"`  // fresh random delay per fire, up to this
	RandomOffset string   `json:"random_offset,omitempty"` // stable per-schedule shift, up to this
	MaxRuns      int64    `json:"max_runs,omitempty"`      // end after that many fires; 0: no limit
	Backoff      string   `json:"backoff,omitempty"`       // first retry delay
	BackoffMax   string   `json:"backoff_max,omitempty"`   // retry delay cap
	RetryOn      []string `json:"retry_on,omitempty"`      // error | timeout | unavailable (default: all)
	// On lists KEY=VALUE labels an instance of the handler must all have
	// to run the schedule's attempts (docs/handlers.md, pools).
	On []string `json:"on,omitempty"`
	// Notification targets (docs/notifications.md): an https:// URL or
	// handler:NAME[/METHOD]; "none" turns off the scheduler's default.
	OnFailure    string `json:"on_failure,omitempty"`
	OnMissed     string `json:"on_missed,omitempty"`
	OnRecovery   string `json:"on_recovery,omitempty"`
	OnDeadMan    string `json:"on_dead_man,omitempty"`
	DeadManAfter string `json:"dead_man_after,omitempty"` // no success for this long; 0: the default
}

// policyFields are the JSON names of Policy, which the engine uses as the
// Field of its *field.Error for a bad policy.
var policyFields = []string{"misfire", "misfire_limit", "grace_time", "overlap", "queue_limit",
	"random_delay", "random_offset", "max_runs", "backoff", "backoff_max", "retry_on", "on",
	"on_failure", "on_missed", "on_recovery", "on_dead_man", "dead_man_after"}

// PolicyFromStore renders p; nil when p is the zero policy (all defaults).
func PolicyFromStore(p store.Policy) *Policy {
	if p.IsZero() {
		return nil
	}
	d := func(v time.Duration) string {
		if v == 0 {
			return ""
		}
		return v.String()
	}
	return &Policy{
		Misfire: p.Misfire, MisfireLimit: p.MisfireLimit, GraceTime: d(p.GraceTime),
		Overlap: p.Overlap, QueueLimit: p.QueueLimit,
		RandomDelay: d(p.RandomDelay), RandomOffset: d(p.RandomOffset), MaxRuns: p.MaxRuns,
		Backoff: d(p.Backoff), BackoffMax: d(p.BackoffMax), RetryOn: slices.Clone(p.RetryOn), On: slices.Clone(p.On),
		OnFailure: p.OnFailure, OnMissed: p.OnMissed, OnRecovery: p.OnRecovery, OnDeadMan: p.OnDeadMan,
		DeadManAfter: d(p.DeadManAfter),
	}
}

// Store parses the durations of p. A bad duration is a *field.Error naming
// "policy.<field>"; the meaning of the values (allowed words, bounds) is the
// engine's to check. A nil p is the zero policy.
func (p *Policy) Store() (store.Policy, error) {
	if p == nil {
		return store.Policy{}, nil
	}
	out := store.Policy{
		Misfire: p.Misfire, MisfireLimit: p.MisfireLimit, Overlap: p.Overlap, QueueLimit: p.QueueLimit,
		MaxRuns: p.MaxRuns, RetryOn: slices.Clone(p.RetryOn), On: slices.Clone(p.On),
		OnFailure: p.OnFailure, OnMissed: p.OnMissed, OnRecovery: p.OnRecovery, OnDeadMan: p.OnDeadMan,
	}
	for _, f := range []struct {
		name string
		in   string
		out  *time.Duration
	}{
		{"grace_time", p.GraceTime, &out.GraceTime}, {"random_delay", p.RandomDelay, &out.RandomDelay},
		{"random_offset", p.RandomOffset, &out.RandomOffset}, {"backoff", p.Backoff, &out.Backoff},
		{"backoff_max", p.BackoffMax, &out.BackoffMax}, {"dead_man_after", p.DeadManAfter, &out.DeadManAfter},
	} {
		if f.in == "" {
			continue
		}
		d, err := time.ParseDuration(f.in)
		if err != nil {
			return store.Policy{}, field.Errorf("policy."+f.name, "%q is not a duration", f.in).
				WithFix(`use a Go duration such as "30s", "5m" or "1h30m"`)
		}
		*f.out = d
	}
	return out, nil
}

// policyError prefixes the engine's policy field errors with "policy.", the
// path the user wrote; other errors pass unchanged.
func policyError(err error) error {
	var fe *field.Error
	if errors.As(err, &fe) && slices.Contains(policyFields, strings.SplitN(fe.Field, ".", 2)[0]) {
		return field.Prefix("policy", err)
	}
	return err
}

// UpdateScheduleRequest is the body of PATCH /api/v1/schedules/{id}. Absent
// keys stay as they are. "policy" is merged key by key into the current
// policy (a key set to "" or 0 goes back to its default); "trigger" replaces
// the trigger and the next fire is computed from now.
type UpdateScheduleRequest struct {
	Method      *string         `json:"job_method,omitempty"`
	Params      json.RawMessage `json:"job_params,omitempty"`
	Trigger     json.RawMessage `json:"trigger,omitempty"`
	Timezone    *string         `json:"timezone,omitempty"`
	MaxAttempts *int            `json:"max_attempts,omitempty"`
	Timeout     *string         `json:"timeout,omitempty"`
	Policy      json.RawMessage `json:"policy,omitempty"`
	// Source changes who manages the schedule ("" detaches it; see
	// source.go); it must name the current source unless ?detach=true.
	Source *string `json:"source,omitempty"`
}

// BackfillRequest is the body of POST /api/v1/schedules/{id}/backfill: the
// RFC 3339 bounds of the range, both included.
type BackfillRequest struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// parseTimeField parses an RFC 3339 time for field name.
func parseTimeField(name, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, fieldErr(http.StatusBadRequest, name, name+" is required", `send an RFC 3339 time such as "2026-01-02T15:04:05Z"`)
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, fieldErr(http.StatusBadRequest, name, fmt.Sprintf("%s %q is not an RFC 3339 time", name, v), `send a time such as "2026-01-02T15:04:05Z"`)
	}
	return t, nil
}
