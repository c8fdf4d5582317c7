package main

import "testing"

func TestStats(t *testing.T) {
	runGolden(t, []cliCase{
		{name: "stats", args: []string{"stats"}, seed: true},
		{name: "stats_empty", args: []string{"stats"}},
		{name: "stats_json", args: []string{"--json", "stats"}, seed: true},
	})
}
