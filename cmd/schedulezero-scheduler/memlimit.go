package main

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

// memoryFlag is --memory-budget: off by default, as the limit costs
// collections under saturation (docs/performance.md).
func memoryFlag() cli.Flag {
	return &cli.Int64Flag{Name: "memory-budget", EnvVars: []string{"SZ_MEMORY_BUDGET"},
		Usage: "keep the Go runtime's soft memory limit at `MIB` mebibytes plus 1 KiB a schedule, so that overload costs collections instead of memory (36 bounds a 10,000-schedule scheduler under saturation to about 42 MB anonymous, at a cost in throughput; 0: no limit, GOMEMLIMIT decides)"}
}

// memoryBudget is the daemon's MemoryBudget in bytes from --memory-budget
// (MiB): 0 when GOMEMLIMIT in the environment sets the runtime's limit
// itself, or when handlers run inside the scheduler (--embed), whose
// memory is theirs, not the scheduler's to budget.
func memoryBudget(mib int64, embed []string, getenv func(string) string) (int64, error) {
	switch {
	case mib < 0:
		return 0, fmt.Errorf("--memory-budget %d: must be 0 (no limit) or a positive number of MiB, e.g. 36", mib)
	case mib == 0 || getenv("GOMEMLIMIT") != "" || len(embed) > 0:
		return 0, nil
	case mib > 1<<40:
		return 0, fmt.Errorf("--memory-budget %d: more than 2^40 MiB; give it in MiB, e.g. 36", mib)
	}
	return mib << 20, nil
}
