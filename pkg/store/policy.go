package store

import "time"

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
