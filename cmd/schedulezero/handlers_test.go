package main

import "testing"

func TestHandlers(t *testing.T) {
	runGolden(t, []cliCase{
		{name: "handlers", args: []string{"handlers"}},
		{name: "handlers_json", args: []string{"--json", "handlers"}},
	})
}
