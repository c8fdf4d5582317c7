//go:build race

package scheduler_test

// raceEnabled: the race detector allocates on its own account; the
// allocation bounds do not hold under it.
const raceEnabled = true
