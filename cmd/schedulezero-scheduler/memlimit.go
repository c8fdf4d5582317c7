package main

import "github.com/schedulezero/schedulezero/pkg/schedulerd"

// memoryBudget is the daemon's MemoryBudget: the default unless
// GOMEMLIMIT in the environment sets the runtime's limit itself, or
// handlers run inside the scheduler (--embed), whose memory is theirs,
// not the scheduler's to budget; then 0, the limit left alone.
func memoryBudget(embed []string, getenv func(string) string) int64 {
	if getenv("GOMEMLIMIT") != "" || len(embed) > 0 {
		return 0
	}
	return schedulerd.DefaultMemoryBudget
}
