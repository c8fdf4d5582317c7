package handler

import (
	"errors"
	"time"
)

// After a failover the new scheduler asks about each attempt found
// running (wire.MethodKnown). The old scheduler's request for it may still
// be on its way, behind the question: its connection's bytes stay
// readable after its process died, and the job socket reads its peers in
// no fixed order. An answer "unknown" is taken as "never ran": the
// scheduler retries it as a new attempt. So the answer is kept: an
// attempt answered unknown is disowned, and a request for it that comes
// later is refused instead of run, which would run it twice.

// Bounds of the disowned attempts remembered: a request still on its way
// arrives within moments of the question; a failover asks at most the
// attempts that were in flight.
const (
	disownedMaxAge  = 10 * time.Minute
	disownedEntries = 1 << 16
)

// errDisowned is the not-run error of a request for a disowned attempt.
var errDisowned = errors.New("not run: this attempt was answered unknown to a scheduler's question after a failover, which retries it as a new attempt")

// disownLocked remembers that the attempt of key was answered unknown.
// The caller holds r.mu.
func (r *runner) disownLocked(key string) {
	now := time.Now()
	if r.disowned == nil {
		r.disowned = map[string]time.Time{}
	}
	if len(r.disowned) >= disownedEntries {
		for k, at := range r.disowned {
			if now.Sub(at) > disownedMaxAge || len(r.disowned) >= disownedEntries {
				delete(r.disowned, k)
			}
		}
	}
	r.disowned[key] = now
}

// disownedLocked reports whether the attempt of key was answered unknown
// within disownedMaxAge. The caller holds r.mu.
func (r *runner) disownedLocked(key string) bool {
	at, ok := r.disowned[key]
	return ok && time.Since(at) <= disownedMaxAge
}
