package schedulerd

import (
	"math"
	"runtime/debug"
	"sync"
)

// DefaultMemoryBudget is a budget for the scheduler's memory beyond what
// its schedules hold: the executions in flight
// (scheduler.Options.MaxInFlight), the store's transactions and the
// collector's headroom over them. With it a 10,000-schedule scheduler
// peaks at about 42 MB anonymous under saturation; at 32 MiB the
// collector ran 1.6 times as often and the rate suffered more. The
// command sets none unless asked (--memory-budget), as even this one
// costs throughput under saturation (docs/performance.md).
const DefaultMemoryBudget = 36 << 20

// MemoryPerSchedule is what the memory limit grants each schedule: about
// 300 bytes at rest and 500 once it fired (its compiled trigger and fire
// state), twice that for the collector's headroom.
const MemoryPerSchedule = 1 << 10

// memoryLimit is the soft limit of the Go runtime's memory for a budget
// and n schedules; 0: none (budget 0).
func memoryLimit(budget int64, n int) int64 {
	if budget <= 0 {
		return 0
	}
	if n < 0 {
		n = 0
	}
	per := int64(MemoryPerSchedule)
	if int64(n) > (math.MaxInt64-budget)/per {
		return math.MaxInt64
	}
	return budget + int64(n)*per
}

// memLimiter keeps the runtime's memory limit at memoryLimit as the
// number of schedules changes, and puts back the limit it found when the
// daemon stops (the limit is the process's, and tests embed daemons).
type memLimiter struct {
	budget int64

	mu   sync.Mutex
	set  int64 // the limit last set; 0: none yet
	prev int64 // the runtime's limit before the first set
}

// update sets the limit for n schedules when it differs from the last.
func (m *memLimiter) update(n int) {
	limit := memoryLimit(m.budget, n)
	if limit == 0 {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if limit == m.set {
		return
	}
	old := debug.SetMemoryLimit(limit)
	if m.set == 0 {
		m.prev = old
	}
	m.set = limit
}

// restore puts back the limit the first update found.
func (m *memLimiter) restore() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.set != 0 {
		debug.SetMemoryLimit(m.prev)
		m.set = 0
	}
}
