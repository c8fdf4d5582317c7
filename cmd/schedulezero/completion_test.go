package main

import (
	"os"
	"os/exec"
	"path/filepath"
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

// TestCompletion_Bash sources the generated bash script in a real bash and
// completes through the real binary.
func TestCompletion_Bash(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash is not installed")
	}
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := t.TempDir()
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	script, err := exec.Command(filepath.Join(bin, "schedulezero"), "completion", "bash").Output()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "schedulezero.bash")
	if err := os.WriteFile(path, script, 0o644); err != nil {
		t.Fatal(err)
	}
	// complete -F needs no bash-completion package; call the function as
	// readline would.
	harness := `source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _schedulezero; printf '%s\n' "${COMPREPLY[@]}"`
	for _, tc := range []struct {
		words []string
		want  string
	}{
		{[]string{"schedulezero", "sched"}, "schedule"},
		{[]string{"schedulezero", "schedule", "add", "--overlap", "rep"}, "replace"},
		{[]string{"schedulezero", "calendar", "--tz", "Asia/Tok"}, "Asia/Tokyo"},
	} {
		cmd := exec.Command(bash, append([]string{"-c", harness, "bash", path}, tc.words...)...)
		cmd.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
		out, err := cmd.Output()
		if err != nil || strings.TrimSpace(string(out)) != tc.want {
			t.Errorf("%v: %q, %v; want %q", tc.words, out, err, tc.want)
		}
	}
}
