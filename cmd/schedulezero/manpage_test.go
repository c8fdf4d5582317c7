package main

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// TestManPage: the page comes from the command tree, so every command and
// flag is in it, with the sections a man page has; groff, where installed,
// reads it without a warning.
func TestManPage(t *testing.T) {
	tb := setup(t)
	page, errOut, code := tb.cli(t, "man")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, s := range []string{".SH NAME", ".SH SYNOPSIS", ".SH DESCRIPTION", `.SH "GLOBAL OPTIONS"`, ".SH COMMANDS", `.SH "EXIT STATUS"`, ".SH ENVIRONMENT", ".SH EXAMPLES"} {
		if !strings.Contains(page, s+"\n") {
			t.Errorf("no %s", s)
		}
	}
	plain := strings.ReplaceAll(page, `\-`, "-")
	walkCommands(newApp(nil, nil), func(path string, cmd *cli.Command) {
		if cmd.Action != nil && !strings.Contains(plain, `.SS "`+path) {
			t.Errorf("no subsection for %q", path)
		}
		for _, f := range cmd.Flags {
			if !strings.Contains(plain, "-"+f.Names()[0]+`\fR`) {
				t.Errorf("%s: flag %s missing", path, f.Names()[0])
			}
		}
	})
	groff, err := exec.LookPath("groff")
	if err != nil {
		return
	}
	cmd := exec.Command(groff, "-man", "-Tutf8", "-ww", "-z")
	cmd.Stdin = strings.NewReader(page)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil || stderr.Len() > 0 {
		t.Errorf("groff: %v\n%s", err, stderr.String())
	}
}

// walkCommands calls fn for every visible command of app with its path
// ("schedulezero schedule add").
func walkCommands(app *cli.App, fn func(path string, cmd *cli.Command)) {
	var walk func(prefix string, cmds []*cli.Command)
	walk = func(prefix string, cmds []*cli.Command) {
		for _, c := range cmds {
			if c.Hidden {
				continue
			}
			fn(prefix+" "+c.Name, c)
			walk(prefix+" "+c.Name, c.Subcommands)
		}
	}
	walk(app.Name, app.Commands)
}
