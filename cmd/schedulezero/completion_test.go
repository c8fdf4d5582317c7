package main

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

func TestComplete(t *testing.T) {
	tests := []struct {
		name  string
		words []string
		want  []string // all of these, and nothing that does not start with the last word
		not   []string
	}{
		{"commands", []string{""}, []string{"schedule", "history", "handlers", "calendar", "completion", "version"}, []string{completeCommand, "man"}},
		{"prefix", []string{"sch"}, []string{"schedule"}, []string{"history"}},
		{"subcommands", []string{"schedule", ""}, []string{"add", "list", "show", "backfill"}, nil},
		{"flags", []string{"schedule", "add", "--mis"}, []string{"--misfire", "--misfire-limit"}, []string{"--every"}},
		{"global flags too", []string{"history", "--js"}, []string{"--json"}, nil},
		{"misfire values", []string{"schedule", "add", "--misfire", ""}, []string{"skip", "once", "all"}, nil},
		{"overlap values", []string{"schedule", "edit", "x", "--overlap", "q"}, []string{"queue"}, []string{"skip"}},
		{"status values", []string{"history", "--status", ""}, statusNames, nil},
		{"zones", []string{"calendar", "--tz", "Europe/Be"}, []string{"Europe/Berlin"}, []string{"America/New_York"}},
		{"handler names from the API", []string{"schedule", "add", "--handler", ""}, []string{"dingaling"}, nil},
		{"schedule ids from the API", []string{"schedule", "show", ""}, []string{"counter", "nightly"}, nil},
		{"schedule flag", []string{"history", "--schedule", "n"}, []string{"nightly"}, []string{"counter"}},
		{"handler positional", []string{"handlers", "restart", ""}, []string{"dingaling"}, nil},
		{"shells", []string{"completion", ""}, []string{"bash", "zsh", "fish"}, nil},
		{"after a value flag", []string{"schedule", "add", "--every", "10s", "--"}, []string{"--handler", "--method"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tb := setup(t)
			tb.seed(t)
			out, errOut, code := tb.cli(t, append([]string{completeCommand}, tc.words...)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			got := strings.Fields(out)
			cur := tc.words[len(tc.words)-1]
			for _, w := range tc.want {
				if !slices.Contains(got, w) {
					t.Errorf("lacks %q: %v", w, got)
				}
			}
			for _, g := range got {
				if !strings.HasPrefix(g, cur) || slices.Contains(tc.not, g) {
					t.Errorf("offers %q for %q", g, cur)
				}
			}
		})
	}
}

// TestCompletion_Shells loads each generated script in its real shell
// (where installed) and completes through the real binary.
func TestCompletion_Shells(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := t.TempDir()
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	// Each harness loads the script and completes the words "$@" (the
	// program first, the word being typed last) as the shell would:
	// bash's complete -F and zsh's compadd need no completion system when
	// called like this, fish has complete -C.
	harnesses := map[string]string{
		"bash": `source <(schedulezero completion bash); COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _schedulezero; printf '%s\n' "${COMPREPLY[@]}"`,
		"zsh": `compdef() { :; }; source <(schedulezero completion zsh); compadd() { shift 2; print -l -- "$@"; }; _files() { print FILES; }
			words=("$@"); CURRENT=$#; _schedulezero`,
		"fish": `schedulezero completion fish | source; complete -C "$argv"`,
	}
	cases := []struct {
		words []string
		want  string
	}{
		{[]string{"schedulezero", "sched"}, "schedule"},
		{[]string{"schedulezero", "schedule", "add", "--overlap", "rep"}, "replace"},
		{[]string{"schedulezero", "calendar", "--tz", "Asia/Tok"}, "Asia/Tokyo"},
		{[]string{"schedulezero", "history", "--status", "miss"}, "missed"},
	}
	for shell, harness := range harnesses {
		t.Run(shell, func(t *testing.T) {
			path, err := exec.LookPath(shell)
			if err != nil {
				t.Skipf("%s is not installed", shell)
			}
			for _, tc := range cases {
				args := append([]string{"-c", harness, shell}, tc.words...)
				if shell == "fish" { // fish -c takes no $0
					args = append([]string{"-c", harness}, tc.words...)
				}
				cmd := exec.Command(path, args...)
				cmd.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"), "HOME="+t.TempDir(), "XDG_CONFIG_HOME="+t.TempDir())
				out, err := cmd.Output()
				if err != nil || strings.TrimSpace(string(out)) != tc.want {
					t.Errorf("%v: %q, %v; want %q", tc.words, out, err, tc.want)
				}
			}
		})
	}
}
