package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/urfave/cli/v2"
)

// Doc files whose ```sh examples run against a demo.
var exampleDocs = []string{"../../README.md", "../../docs/cli.md"}

// notAgainstDemo are the first words of example lines that need root,
// systemd or the package, or build or start things themselves: the walk
// skips them. Keep it short; everything else must run as typed.
var notAgainstDemo = []string{"sudo", "systemctl", "apt-get", "journalctl", "make", "lintian", "man"}

// following marks commands that run until interrupted: they run for
// followFor and pass if they printed something.
var following = regexp.MustCompile(`\s(--follow|-f)(\s|$)`)

const followFor = 3 * time.Second

// example is one command line of a ```sh block.
type example struct {
	doc  string
	line int
	cmd  string
}

// shellExamples returns the commands of the ```sh blocks of a Markdown
// file, continuation lines joined.
func shellExamples(t *testing.T, path string) []example {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []example
	in, cont := false, ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		l := sc.Text()
		switch {
		case !in && strings.TrimSpace(l) == "```sh":
			in = true
		case in && strings.TrimSpace(l) == "```":
			in = false
		case in:
			if strings.HasSuffix(l, `\`) {
				cont += strings.TrimSuffix(l, `\`) + " "
				continue
			}
			cmd := strings.TrimSpace(cont + l)
			cont = ""
			if cmd != "" && !strings.HasPrefix(cmd, "#") {
				out = append(out, example{doc: filepath.Base(path), line: n, cmd: cmd})
			}
		}
	}
	return out
}

func skipped(cmd string) bool {
	first, _, _ := strings.Cut(cmd, " ")
	for _, w := range notAgainstDemo {
		if first == w {
			return true
		}
	}
	return false
}

// TestDocExamples builds the binaries with make, starts the demo as the
// README says, and runs every shell example of the README and docs/cli.md
// as typed, in a second "terminal" (a fresh HOME and runtime directory,
// the demo found by itself). An example fails on a non-zero exit or
// anything on stderr.
func TestDocExamples(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binaries and runs the demo; skipped with -short")
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash is not installed")
	}
	work := t.TempDir()
	bin := filepath.Join(work, "bin")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "make", "-C", "../..", "build", "BIN="+bin).CombinedOutput(); err != nil {
		t.Fatalf("make build: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(bin, "man", "schedulezero.1.gz")); err != nil {
		t.Errorf("make build wrote no man page: %v", err)
	}
	runtime := filepath.Join(work, "run")
	if err := os.Mkdir(runtime, 0o700); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "HOME="+filepath.Join(work, "home"), "XDG_RUNTIME_DIR="+runtime,
		"PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"), "SZ_API=", "SZ_GOVERNOR=", "SZ_JSON=")

	// The release the binaries carry is the VERSION file's.
	if out, err := exec.Command(filepath.Join(bin, "schedulezero"), "version").Output(); err != nil || !strings.HasPrefix(string(out), "schedulezero "+releaseFile(t)+" ") {
		t.Errorf("schedulezero version: %q, %v; want the release %s of VERSION", out, err, releaseFile(t))
	}

	// The first terminal: the demo.
	var demoOut syncBuffer
	demo := exec.Command(filepath.Join(bin, "schedulezero"), "demo", "--zmq-bind", "ipc://"+filepath.Join(work, "zmq.sock"))
	demo.Dir, demo.Env, demo.Stdout, demo.Stderr = work, env, &demoOut, &demoOut
	if err := demo.Start(); err != nil {
		t.Fatal(err)
	}
	demoDone := make(chan error, 1)
	go func() { demoDone <- demo.Wait() }()
	defer func() {
		if demo.ProcessState == nil {
			_ = demo.Process.Kill()
			<-demoDone
		}
	}()
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(demoOut.String(), "following executions") {
		select {
		case err := <-demoDone:
			t.Fatalf("the demo exited: %v\n%s", err, demoOut.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the demo did not start:\n%s", demoOut.String())
		}
		time.Sleep(50 * time.Millisecond) // polling a condition with a deadline
	}

	// The second terminal: every example, in order.
	var ran int
	for _, doc := range exampleDocs {
		for _, ex := range shellExamples(t, doc) {
			if skipped(ex.cmd) {
				continue
			}
			ran++
			follow := following.MatchString(ex.cmd)
			limit := 30 * time.Second
			if follow {
				limit = followFor
			}
			cctx, ccancel := context.WithTimeout(ctx, limit)
			cmd := exec.CommandContext(cctx, bash, "-c", ex.cmd)
			cmd.Dir, cmd.Env = work, env
			cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGINT) } // Ctrl-C
			cmd.WaitDelay = 5 * time.Second
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			stopped := cctx.Err() != nil
			ccancel()
			switch {
			case follow && stopped && stdout.Len() > 0 && stderr.Len() == 0:
				t.Logf("%s:%d: %s: followed for %s", ex.doc, ex.line, ex.cmd, followFor)
			case follow && !stopped:
				t.Errorf("%s:%d: %s: ended by itself (%v), want it to follow until interrupted\n%s%s", ex.doc, ex.line, ex.cmd, err, &stdout, &stderr)
			case err != nil || stderr.Len() > 0:
				t.Errorf("%s:%d: %s: %v\nstdout:\n%s\nstderr:\n%s", ex.doc, ex.line, ex.cmd, err, &stdout, &stderr)
			}
		}
	}
	t.Logf("%d examples of %v ran against the demo", ran, exampleDocs)
	if ran < 20 {
		t.Errorf("only %d examples ran; the extraction is broken", ran)
	}

	// Completion, through the real binary and the demo's API.
	script := `source <(schedulezero completion bash); COMP_WORDS=(schedulezero schedule add --handler ding); COMP_CWORD=4; _schedulezero; echo "${COMPREPLY[@]}"`
	cmd := exec.Command(bash, "-c", script)
	cmd.Dir, cmd.Env = work, env
	if out, err := cmd.CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "dingaling" {
		t.Errorf("completing --handler against the demo: %q, %v", out, err)
	}

	// Ctrl-C: the summary, and the demo file is gone.
	if err := demo.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-demoDone:
		if err != nil {
			t.Errorf("demo: %v\n%s", err, demoOut.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("the demo did not stop on SIGINT:\n%s", demoOut.String())
	}
	if !regexp.MustCompile(`demo: stopping; \d+ runs, \d+ failures, \d+ missed`).MatchString(demoOut.String()) {
		t.Errorf("no summary:\n%s", demoOut.String())
	}
	if _, err := os.Stat(filepath.Join(runtime, "schedulezero", "demo.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("demo file left: %v", err)
	}
}

// TestCLIDocCoversCommandTree: docs/cli.md documents every command and
// flag of the tree, the environment variables and the real --api default.
func TestCLIDocCoversCommandTree(t *testing.T) {
	data, err := os.ReadFile("../../docs/cli.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	// sections: heading line -> the text up to the next heading of the
	// same or a higher level (a ## section includes its ###).
	type section struct{ heading, body string }
	var secs []section
	lines := strings.Split(doc, "\n")
	for i, l := range lines {
		if !strings.HasPrefix(l, "#") {
			continue
		}
		level := len(l) - len(strings.TrimLeft(l, "#"))
		j := i + 1
		for ; j < len(lines); j++ {
			if strings.HasPrefix(lines[j], "#") && len(lines[j])-len(strings.TrimLeft(lines[j], "#")) <= level {
				break
			}
		}
		secs = append(secs, section{l, strings.Join(lines[i:j], "\n")})
	}
	sectionsOf := func(path string) []string { // path: "schedule add"
		words := strings.Fields(path)
		name := words[len(words)-1]
		var out []string
		for _, s := range secs {
			h := s.heading
			if strings.Contains(h, "`"+path) ||
				(len(words) > 1 && strings.Contains(h, "`"+strings.Join(words[:len(words)-1], " ")+" ") && regexp.MustCompile("`"+regexp.QuoteMeta(name)+"[ `]").MatchString(h)) {
				out = append(out, s.body)
			}
		}
		return out
	}
	app := newApp(nil, nil)
	flagHome := map[string][]string{} // flag name -> sections of the commands that define it
	walkCommands(app, func(path string, cmd *cli.Command) {
		p := strings.TrimPrefix(path, app.Name+" ")
		for _, f := range cmd.Flags {
			flagHome[f.Names()[0]] = append(flagHome[f.Names()[0]], sectionsOf(p)...)
		}
	})
	flagText := func(n string) string {
		if len(n) == 1 {
			return "`-" + n
		}
		return "`--" + n
	}
	walkCommands(app, func(path string, cmd *cli.Command) {
		p := strings.TrimPrefix(path, app.Name+" ")
		secs := sectionsOf(p)
		if len(secs) == 0 && (len(cmd.Flags) > 0 || !strings.Contains(doc, "schedulezero "+p)) {
			t.Errorf("docs/cli.md: no section for %q", p)
		}
		for _, f := range cmd.Flags {
			found := false
			for _, s := range flagHome[f.Names()[0]] {
				if strings.Contains(s, flagText(f.Names()[0])) {
					found = true
				}
			}
			if !found {
				t.Errorf("docs/cli.md: %s: flag %s is not documented", p, flagText(f.Names()[0])[1:])
			}
		}
	})
	global := ""
	for _, s := range secs {
		if strings.HasPrefix(s.heading, "## Global flags") {
			global = s.body
		}
	}
	for _, f := range app.Flags {
		if !strings.Contains(global, flagText(f.Names()[0])) {
			t.Errorf("docs/cli.md: global flag --%s is not in Global flags", f.Names()[0])
		}
	}
	for _, f := range allFlags(app) {
		if ev, ok := f.(interface{ GetEnvVars() []string }); ok {
			for _, e := range ev.GetEnvVars() {
				if !strings.Contains(doc, "`"+e+"`") {
					t.Errorf("docs/cli.md: environment variable %s (of --%s) is not documented", e, f.Names()[0])
				}
			}
		}
	}
	for _, want := range []string{"unix:" + defaultAPISocket, defaultAPI, demoFileHelp, defaultGovernor} {
		if !strings.Contains(doc, want) {
			t.Errorf("docs/cli.md does not name the default %s", want)
		}
	}
	for _, e := range exitStatuses {
		if !regexp.MustCompile(`(?m)^\| ` + string(rune('0'+e.code)) + ` \|`).MatchString(doc) {
			t.Errorf("docs/cli.md: exit code %d is not in the table", e.code)
		}
	}
}
