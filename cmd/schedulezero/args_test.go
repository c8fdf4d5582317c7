package main

import (
	"slices"
	"strings"
	"testing"
)

func TestArrangeArgs(t *testing.T) {
	app := newApp(nil, nil)
	tests := []struct {
		name string
		in   []string
		want []string
	}{
		{"flag after positional", []string{"calendar", "Mon *-*-* 09:00", "-n", "3"}, []string{"calendar", "-n", "3", "Mon *-*-* 09:00"}},
		{"global flag after command", []string{"history", "-n", "1", "--json"}, []string{"--json", "history", "-n", "1"}},
		{"subcommand flag after id", []string{"schedule", "run", "ID", "--force"}, []string{"schedule", "run", "--force", "ID"}},
		{"inline value", []string{"calendar", "X", "--tz=UTC"}, []string{"calendar", "--tz=UTC", "X"}},
		{"value that looks like a flag", []string{"schedule", "add", "--timeout", "-1s"}, []string{"schedule", "add", "--timeout", "-1s"}},
		{"own flag wins over global", []string{"schedule", "add", "--timeout", "5s", "--json"}, []string{"--json", "schedule", "add", "--timeout", "5s"}},
		{"double dash ends flags", []string{"calendar", "-n", "2", "--", "-n"}, []string{"calendar", "-n", "2", "--", "-n"}},
		{"value equal to a command name", []string{"handlers", "add", "x", "--kind", "list"}, []string{"handlers", "add", "--kind", "list", "x"}},
		{"help command", []string{"help", "schedule", "add"}, []string{"schedule", "add", "--help"}},
		{"help alone", []string{"help"}, []string{"help"}},
		{"alias", []string{"schedule", "ls", "--json"}, []string{"--json", "schedule", "ls"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := arrangeArgs(app, append([]string{"schedulezero"}, tc.in...))
			if err != nil {
				t.Fatal(err)
			}
			if want := append([]string{"schedulezero"}, tc.want...); !slices.Equal(got, want) {
				t.Errorf("got %q, want %q", got, want)
			}
		})
	}
}

// TestFlagsAnywhere runs the commands of the issue as users type them.
func TestFlagsAnywhere(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		out  string // a substring of stdout
		err  string // a substring of stderr
	}{
		{"calendar -n after expr", []string{"calendar", "Mon..Fri *-*-* 09:00", "-n", "3"}, 0, "Iter. #3", ""},
		{"calendar --tz after expr", []string{"calendar", "--cron", "0 9 * * 1-5", "--tz", "America/New_York"}, 0, "EST", ""},
		{"history --json after -n", []string{"history", "-n", "1", "--json"}, 0, `"execution_id"`, ""},
		{"run --force after id", []string{"schedule", "run", "counter", "--force"}, 0, "fired counter", ""},
		{"show --json after id", []string{"schedule", "show", "counter", "--json"}, 0, `"id": "counter"`, ""},
		{"unknown flag", []string{"history", "--jsonx"}, exitUsage, "", "unknown flag --jsonx (see schedulezero history --help)"},
		{"unknown command", []string{"foo"}, exitUsage, "", `unknown command "foo" (see schedulezero --help)`},
		{"unknown subcommand", []string{"schedule", "foo"}, exitUsage, "", `schedulezero schedule: unknown command "foo"`},
		{"help of an unknown command", []string{"help", "foo"}, exitUsage, "", `unknown command "foo"`},
		{"help of a command", []string{"help", "history"}, 0, "--since", ""},
		{"negative API timeout", []string{"--timeout", "-1s", "schedule", "list"}, exitUsage, "", "--timeout -1s"},
		{"negative job timeout", []string{"schedule", "add", "--handler", "dingaling", "--method", "ping", "--every", "1m", "--timeout", "-1s"}, exitUsage, "", "--timeout -1s: a job timeout must be positive"},
		{"negative job timeout on edit", []string{"schedule", "edit", "counter", "--timeout", "-1s"}, exitUsage, "", "--timeout -1s"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tb := setup(t)
			tb.seed(t)
			out, errOut, code := tb.cli(t, tc.args...)
			if code != tc.code || !strings.Contains(out, tc.out) || !strings.Contains(errOut, tc.err) {
				t.Errorf("exit %d (want %d)\nstdout: %s\nstderr: %s\nwant stdout containing %q, stderr containing %q", code, tc.code, out, errOut, tc.out, tc.err)
			}
		})
	}
}
