package schedulerd

import (
	"math"
	"testing"
)

func TestMemoryLimit(t *testing.T) {
	for _, tc := range []struct {
		name   string
		budget int64
		n      int
		want   int64
	}{
		{"no budget", 0, 10000, 0},
		{"negative budget", -1, 10000, 0},
		{"no schedules", DefaultMemoryBudget, 0, DefaultMemoryBudget},
		{"10,000 schedules", DefaultMemoryBudget, 10000, DefaultMemoryBudget + 10000*MemoryPerSchedule},
		{"overflow", math.MaxInt64 - 1, 10, math.MaxInt64},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := memoryLimit(tc.budget, tc.n); got != tc.want {
				t.Errorf("memoryLimit(%d, %d) = %d, want %d", tc.budget, tc.n, got, tc.want)
			}
		})
	}
}
