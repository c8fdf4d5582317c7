package main

// embedGCPercent is the scheduler's GOGC when it embeds handlers (--embed)
// and the environment sets none: the smallest deployment, one process for
// a small box. Its live heap is a few megabytes, so the collector's
// minimum goal (4 MB at GOGC=100) and the doubling above the live heap
// are most of its memory; at 40, as the handler's default, the process
// keeps about 2.5 MB less at 1,000 executions a second for some 2% of
// one CPU (docs/performance.md, "One process").
const embedGCPercent = 40

// gcPercent is the GOGC to set at start, or -1 to leave the runtime's:
// the environment's GOGC decides, then --embed.
func gcPercent(embed []string, getenv func(string) string) int {
	if getenv("GOGC") != "" || len(embed) == 0 {
		return -1
	}
	return embedGCPercent
}
