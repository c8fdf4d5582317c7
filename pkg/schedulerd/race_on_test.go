//go:build race

package schedulerd_test

// raceEnabled: the race detector slows this process several times over;
// load tests scale down to stay short.
const raceEnabled = true
