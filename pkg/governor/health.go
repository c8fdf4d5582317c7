package governor

import (
	"slices"
	"time"

	"github.com/schedulezero/schedulezero/pkg/handlername"
)

// Health model constants.
const (
	// EWMAAlpha weighs the newest round trip in the latency EWMA.
	EWMAAlpha = 0.2
	// healthWindow is how many recent checks feed p99 and the error rate.
	healthWindow = 100
)

// tracker accumulates one handler's health checks. It is not safe for
// concurrent use; the Supervisor guards it.
type tracker struct {
	ewma     time.Duration
	rtts     [healthWindow]time.Duration // ring of successful round trips
	nrtt     int
	results  [healthWindow]bool // ring of outcomes, true = failed
	nres     int
	lastSeen time.Time
	failed   int // consecutive failures
	checks   int
}

// observe records one check: its round trip, or err when it failed.
func (t *tracker) observe(now time.Time, rtt time.Duration, err error) {
	t.results[t.checks%healthWindow] = err != nil
	t.checks++
	t.nres = min(t.nres+1, healthWindow)
	if err != nil {
		t.failed++
		return
	}
	t.failed = 0
	t.lastSeen = now
	if t.nrtt == 0 && t.ewma == 0 {
		t.ewma = rtt
	} else {
		t.ewma = time.Duration(EWMAAlpha*float64(rtt) + (1-EWMAAlpha)*float64(t.ewma))
	}
	t.rtts[t.nrtt%healthWindow] = rtt
	t.nrtt++
}

// reset forgets consecutive failures (after a restart) but keeps history.
func (t *tracker) reset() { t.failed = 0 }

// p99 returns the 99th percentile of the recent round trips (nearest rank).
func (t *tracker) p99() time.Duration {
	n := min(t.nrtt, healthWindow)
	if n == 0 {
		return 0
	}
	s := slices.Clone(t.rtts[:n])
	slices.Sort(s)
	rank := (99*n + 99) / 100 // ceil(0.99 n)
	return s[rank-1]
}

// errorRate returns the fraction of the recent checks that failed.
func (t *tracker) errorRate() float64 {
	if t.nres == 0 {
		return 0
	}
	bad := 0
	for _, f := range t.results[:t.nres] {
		if f {
			bad++
		}
	}
	return float64(bad) / float64(t.nres)
}

func (t *tracker) snapshot() Health {
	return Health{LatencyEWMA: handlername.Duration(t.ewma), P99: handlername.Duration(t.p99()), ErrorRate: t.errorRate(),
		LastSeen: t.lastSeen, FailedChecks: t.failed, Checks: t.checks}
}
