//go:build race

package integration

// raceEnabled: the race detector slows this process several times over,
// and with it the etcd members it embeds; load tests scale down.
const raceEnabled = true
