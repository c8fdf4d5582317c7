package store

import (
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/schedulezero/schedulezero/pkg/field"
	"github.com/schedulezero/schedulezero/pkg/handlername"
)

// Policy is how a schedule behaves beyond its trigger: what happens to
// occurrences that could not run on time, to fires that overlap a running
// one, and to failed attempts. The zero value means the defaults documented
// on each field (and in docs/scheduling.md).
type Policy struct {
	// Misfire decides what runs when occurrences were missed because the
	// scheduler was stopped, the schedule was paused, or the engine fell
	// behind by more than GraceTime: "skip" runs none, "once" (default)
	// runs the latest once, "all" runs each in order up to MisfireLimit.
	// Every occurrence that does not run is recorded as missed.
	Misfire      string        `json:"misfire,omitempty"`
	MisfireLimit int           `json:"misfire_limit,omitempty"` // default 100, with "all"
	GraceTime    time.Duration `json:"grace_time,omitempty"`    // default 1s: later than this is a misfire

	// Overlap decides what a fire does while an earlier execution of the
	// same schedule still runs: "skip" (default; recorded as missed),
	// "allow", "queue" (at most QueueLimit waiting, default 10), or
	// "replace" (cancel the running one).
	Overlap    string `json:"overlap,omitempty"`
	QueueLimit int    `json:"queue_limit,omitempty"`

	// RandomDelay delays each fire by a fresh random amount up to it
	// (systemd's RandomizedDelaySec=); RandomOffset shifts every occurrence
	// by a stable amount up to it, derived from the schedule id, so it
	// survives restarts (RandomizedOffsetSec=).
	RandomDelay  time.Duration `json:"random_delay,omitempty"`
	RandomOffset time.Duration `json:"random_offset,omitempty"`

	// MaxRuns ends the schedule after that many fires (0: no limit).
	MaxRuns int64 `json:"max_runs,omitempty"`

	// Backoff is the delay before the first retry, doubled each attempt up
	// to BackoffMax, with jitter (defaults: the scheduler's). RetryOn lists
	// the outcomes that are retried: "error", "timeout", "unavailable"
	// (default: all three).
	Backoff    time.Duration `json:"backoff,omitempty"`
	BackoffMax time.Duration `json:"backoff_max,omitempty"`
	RetryOn    []string      `json:"retry_on,omitempty"`

	// On constrains where attempts run: only on an instance of the
	// handler whose labels hold every KEY=VALUE (a handler started with
	// --label zone=b). No instance matching, an attempt waits for one
	// within its deadline, then fails "unavailable" (retried by RetryOn).
	On []string `json:"on,omitempty"`

	// Whom to tell (see notify_policy.go): a target each, empty for the
	// scheduler's default, "none" for nobody.
	OnFailure    string        `json:"on_failure,omitempty"`     // the final attempt failed
	OnMissed     string        `json:"on_missed,omitempty"`      // an occurrence did not run
	OnRecovery   string        `json:"on_recovery,omitempty"`    // first success after a failure
	OnDeadMan    string        `json:"on_dead_man,omitempty"`    // no success for DeadManAfter
	DeadManAfter time.Duration `json:"dead_man_after,omitempty"` // 0: the scheduler's default
}

// IsZero reports whether p is the zero policy, every default: most
// schedules have it, so the store writes nothing for it and the engine
// holds nothing for it. encoding/json's omitzero uses it too.
func (p Policy) IsZero() bool {
	return reflect.ValueOf(p).IsZero()
}

// Policy values.
const (
	MisfireSkip = "skip"
	MisfireOnce = "once"
	MisfireAll  = "all"

	OverlapSkip    = "skip"
	OverlapAllow   = "allow"
	OverlapQueue   = "queue"
	OverlapReplace = "replace"

	RetryOnError       = "error"
	RetryOnTimeout     = "timeout"
	RetryOnUnavailable = "unavailable"
)

// Validate checks the policy's fields; errors name the field by its JSON
// key ("misfire"), which callers prefix ("policy.misfire").
func (p Policy) Validate() error {
	oneOf := func(name, v string, allowed ...string) error {
		if v == "" || slices.Contains(allowed, v) {
			return nil
		}
		return field.Errorf(name, "%q is not a policy", v).WithFix("use one of: %s", strings.Join(allowed, ", "))
	}
	if err := oneOf("misfire", p.Misfire, MisfireSkip, MisfireOnce, MisfireAll); err != nil {
		return err
	}
	if err := oneOf("overlap", p.Overlap, OverlapSkip, OverlapAllow, OverlapQueue, OverlapReplace); err != nil {
		return err
	}
	for _, r := range p.RetryOn {
		if err := oneOf("retry_on", r, RetryOnError, RetryOnTimeout, RetryOnUnavailable); err != nil {
			return err
		}
	}
	for _, c := range p.On {
		if _, _, err := handlername.ParseLabel(c); err != nil {
			return field.Prefix("on", err)
		}
	}
	if len(p.On) > handlername.MaxLabels {
		return field.Errorf("on", "has %d constraints", len(p.On)).WithFix("use at most %d", handlername.MaxLabels)
	}
	nonNeg := []struct {
		name string
		v    int64
	}{
		{"misfire_limit", int64(p.MisfireLimit)}, {"grace_time", int64(p.GraceTime)}, {"queue_limit", int64(p.QueueLimit)},
		{"random_delay", int64(p.RandomDelay)}, {"random_offset", int64(p.RandomOffset)}, {"max_runs", p.MaxRuns},
		{"backoff", int64(p.Backoff)}, {"backoff_max", int64(p.BackoffMax)},
	}
	for _, f := range nonNeg {
		if f.v < 0 {
			return field.Errorf(f.name, "is negative").WithFix("use zero for the default, or a positive value")
		}
	}
	if err := p.validateNotify(); err != nil {
		return err
	}
	if p.MisfireLimit > 100000 {
		return field.Errorf("misfire_limit", "is %d", p.MisfireLimit).WithFix("use at most 100000")
	}
	if p.QueueLimit > 10000 {
		return field.Errorf("queue_limit", "is %d", p.QueueLimit).WithFix("use at most 10000")
	}
	return nil
}
