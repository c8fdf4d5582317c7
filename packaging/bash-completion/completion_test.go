// Package completion tests the bash completion of schedulezero(1)
// (packaging/bash-completion/schedulezero) against the CLI it completes:
// the script reads commands and flags from the binary's --help, so a change
// of the CLI's help layout that breaks it fails here.
package completion

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// harness stands in for bash-completion's _init_completion and _filedir
// (the package may not be installed where the tests run), sources the
// script, and prints the candidates for the words given as arguments.
const harness = `
_init_completion() { cur=${COMP_WORDS[COMP_CWORD]}; prev=${COMP_WORDS[COMP_CWORD-1]}; words=("${COMP_WORDS[@]}"); cword=$COMP_CWORD; }
_filedir() { COMPREPLY=(FILES); }
source "$SCRIPT"
COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=()
_schedulezero
echo "${COMPREPLY[*]}"
`

func TestCompletion(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bin := t.TempDir()
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/schedulezero/schedulezero/cmd/schedulezero")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	script, err := filepath.Abs("schedulezero")
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		words   []string // the command line; the last word is the one completed
		want    []string // among the candidates
		notWant []string // not among them
	}{
		{words: []string{"schedulezero", ""}, want: []string{"schedule", "handlers", "history", "stats", "calendar", "demo"}, notWant: []string{"help", "h", "--api"}},
		{words: []string{"schedulezero", "sch"}, want: []string{"schedule"}, notWant: []string{"stats"}},
		{words: []string{"schedulezero", "-"}, want: []string{"--api", "--json", "--timeout", "--help", "--version"}},
		{words: []string{"schedulezero", "--api", "unix:/x", "sch"}, want: []string{"schedule"}},
		{words: []string{"schedulezero", "--api", ""}, want: []string{"unix:/run/schedulezero/api.sock"}},
		{words: []string{"schedulezero", "--api-token-file", ""}, want: []string{"FILES"}},
		{words: []string{"schedulezero", "schedule", ""}, want: []string{"add", "list", "ls", "show", "rm", "pause", "resume", "run", "edit"}, notWant: []string{"schedule", "help"}},
		{words: []string{"schedulezero", "--json", "schedule", "add", "--ev"}, want: []string{"--every"}, notWant: []string{"--handler"}},
		{words: []string{"schedulezero", "schedule", "add", "--every", "2s", "--m"}, want: []string{"--method"}},
		{words: []string{"schedulezero", "history", "-"}, want: []string{"--help"}, notWant: []string{"--every"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.words[1:], " "), func(t *testing.T) {
			cmd := exec.CommandContext(ctx, bash, append([]string{"-c", harness, "harness"}, tt.words...)...)
			// The scheduler is unreachable: completions that ask it give up.
			cmd.Env = []string{"PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH"),
				"SCRIPT=" + script, "SZ_API=http://127.0.0.1:1", "LC_ALL=C"}
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("bash: %v\n%s", err, stderr.String())
			}
			got := map[string]bool{}
			for _, w := range strings.Fields(string(out)) {
				got[w] = true
			}
			for _, w := range tt.want {
				if !got[w] {
					t.Errorf("candidates %q lack %q", strings.TrimSpace(string(out)), w)
				}
			}
			for _, w := range tt.notWant {
				if got[w] {
					t.Errorf("candidates %q contain %q", strings.TrimSpace(string(out)), w)
				}
			}
			if stderr.Len() > 0 {
				t.Errorf("stderr: %s", stderr.String())
			}
		})
	}
}
