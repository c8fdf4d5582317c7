package main

import "testing"

func TestSchedule_Commands(t *testing.T) {
	runGolden(t, []cliCase{
		{name: "list", args: []string{"schedule", "list"}, seed: true},
		{name: "list_empty", args: []string{"schedule", "ls"}},
		{name: "list_json", args: []string{"--json", "schedule", "list"}, seed: true},
		{name: "show", args: []string{"schedule", "show", "counter"}, seed: true},
		{name: "show_json", args: []string{"--json", "schedule", "show", "nightly"}, seed: true},
		{name: "show_missing", args: []string{"schedule", "show", "ghost"}, code: exitNotFound},
		{name: "show_no_arg", args: []string{"schedule", "show"}, code: exitUsage},
		{name: "rm", args: []string{"schedule", "rm", "counter"}, seed: true},
		{name: "rm_missing", args: []string{"schedule", "rm", "ghost"}, code: exitNotFound},
		{name: "pause", args: []string{"schedule", "pause", "counter"}, seed: true},
		{name: "resume", args: []string{"schedule", "resume", "counter"}, seed: true},
		{name: "pause_missing", args: []string{"schedule", "pause", "ghost"}, code: exitNotFound},
		{name: "run", args: []string{"schedule", "run", "counter"}, seed: true},
		{name: "run_json", args: []string{"--json", "schedule", "run", "counter"}, seed: true},
		{name: "run_missing", args: []string{"schedule", "run", "ghost"}, code: exitNotFound},
	})
}
