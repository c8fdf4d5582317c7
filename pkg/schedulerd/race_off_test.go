//go:build !race

package schedulerd_test

const raceEnabled = false
