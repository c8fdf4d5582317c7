package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"
)

// exitStatuses are the exit codes, for the man page and docs/cli.md.
var exitStatuses = []struct {
	code int
	text string
}{
	{0, "success"},
	{exitGeneral, "other failure (a 5xx answer, ...)"},
	{exitUsage, "usage or bad input: an unknown command or flag, a bad value, or a 4xx answer naming a field; the message names the field and the fix"},
	{exitNotFound, "not found: unknown schedule, handler or execution"},
	{exitConflict, "conflict: a schedule with that id exists (use --replace)"},
	{exitUnreachable, "the scheduler's API did not answer"},
}

// manExamples end the man page; each runs as typed against a running demo.
var manExamples = []string{
	"schedulezero schedule add --handler dingaling --method quick_aling --every 10s",
	"schedulezero schedule list",
	"schedulezero schedule show quick_aling",
	"schedulezero history --since 10m --status error",
	"schedulezero history show",
	"schedulezero calendar 'Mon..Fri *-*-* 09:00' -n 3",
	"source <(schedulezero completion bash)",
}

// manCommand is the hidden `man` command that packaging/genman and make man
// call: the page is rendered from the command tree itself (urfave/cli's own
// generator is left out of the binary by the urfave_cli_no_docs tag).
func manCommand() *cli.Command {
	return &cli.Command{
		Name:   "man", // the name packaging/genman asks for (pkg/manpage.CommandName; that package needs urfave/cli's docs)
		Usage:  "print this program's man page (roff)",
		Hidden: true,
		Action: func(c *cli.Context) error { return writeManPage(c.App.Writer, c.App) },
	}
}

func writeManPage(w io.Writer, app *cli.App) error {
	var b strings.Builder
	fmt.Fprintf(&b, ".TH %q 1\n", strings.ToUpper(app.Name))
	fmt.Fprintf(&b, ".SH NAME\n%s \\- %s\n", app.Name, roff(app.Usage))
	b.WriteString(".SH SYNOPSIS\n.B " + app.Name + "\n[\\fIGLOBAL OPTIONS\\fR] \\fICOMMAND\\fR [\\fIOPTIONS\\fR] [\\fIARGUMENTS\\fR]\n")
	b.WriteString(".SH DESCRIPTION\n" + roff("schedulezero talks to a running ScheduleZero scheduler over its REST API (except calendar, "+
		"completion and units, which work offline, and demo, which starts its own scheduler). Every command prints a table for people "+
		"(values escaped, times in the local zone) and, with --json, JSON for scripts. Options may be given before or after the "+
		"arguments; -- ends them.") + "\n")
	b.WriteString(".PP\n" + roff("The scheduler's address is, in this order: --api, $SZ_API, a running demo's (from "+demoFileHelp+
		", or $TMPDIR/schedulezero-UID/demo.json), the packaged scheduler's unix:"+defaultAPISocket+" if it exists, else "+defaultAPI+".") + "\n")
	b.WriteString(".SH \"GLOBAL OPTIONS\"\n")
	writeManFlags(&b, app.Flags)
	b.WriteString(".SH COMMANDS\n")
	var walk func(prefix string, cmds []*cli.Command)
	walk = func(prefix string, cmds []*cli.Command) {
		for _, cmd := range cmds {
			if cmd.Hidden {
				continue
			}
			path := prefix + " " + cmd.Name
			if cmd.Action != nil {
				synopsis := path
				if len(cmd.Flags) > 0 {
					synopsis += " [OPTIONS]"
				}
				if cmd.ArgsUsage != "" {
					synopsis += " " + cmd.ArgsUsage
				}
				fmt.Fprintf(&b, ".SS %q\n", roff(strings.TrimSpace(synopsis)))
				if len(cmd.Aliases) > 0 {
					b.WriteString(roff(cmd.Usage+" (also: "+strings.Join(cmd.Aliases, ", ")+")") + "\n")
				} else {
					b.WriteString(roff(cmd.Usage) + "\n")
				}
				if cmd.Description != "" {
					b.WriteString(".PP\n.nf\n" + roff(cmd.Description) + "\n.fi\n")
				}
				writeManFlags(&b, cmd.Flags)
			}
			walk(path, cmd.Subcommands)
		}
	}
	walk(app.Name, app.Commands)
	b.WriteString(".SH \"EXIT STATUS\"\n")
	for _, e := range exitStatuses {
		fmt.Fprintf(&b, ".TP\n.B %d\n%s\n", e.code, roff(e.text))
	}
	b.WriteString(".SH ENVIRONMENT\n")
	for _, f := range allFlags(app) {
		if ev, ok := f.(interface{ GetEnvVars() []string }); ok {
			for _, e := range ev.GetEnvVars() {
				fmt.Fprintf(&b, ".TP\n.B %s\n%s\n", e, roff("as --"+f.Names()[0]))
			}
		}
	}
	b.WriteString(".TP\n.B SZ_API_TOKEN\n" + roff("the API bearer token, when --api-token-file is not given") + "\n")
	b.WriteString(".SH EXAMPLES\n.nf\n")
	for _, e := range manExamples {
		b.WriteString(roff(e) + "\n")
	}
	b.WriteString(".fi\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// allFlags is every flag of the tree, each once.
func allFlags(app *cli.App) []cli.Flag {
	seen := map[string]bool{}
	var out []cli.Flag
	add := func(fs []cli.Flag) {
		for _, f := range fs {
			if k := f.Names()[0]; !seen[k] {
				seen[k] = true
				out = append(out, f)
			}
		}
	}
	add(app.Flags)
	var walk func([]*cli.Command)
	walk = func(cmds []*cli.Command) {
		for _, c := range cmds {
			add(c.Flags)
			walk(c.Subcommands)
		}
	}
	walk(app.Commands)
	return out
}

func writeManFlags(b *strings.Builder, flags []cli.Flag) {
	for _, f := range flags {
		var names []string
		for _, n := range f.Names() {
			dash := "\\-\\-"
			if len(n) == 1 {
				dash = "\\-"
			}
			names = append(names, "\\fB"+dash+roff(n)+"\\fR")
		}
		head := strings.Join(names, ", ")
		if takesValue(f) {
			head += " \\fI" + flagPlaceholder(f) + "\\fR"
		}
		usage, def := "", ""
		if d, ok := f.(cli.DocGenerationFlag); ok {
			usage = d.GetUsage()
			if d.TakesValue() {
				def = d.GetDefaultText()
				if def == "" {
					def = d.GetValue()
				}
			}
		}
		if def != "" && def != `""` && def != "0" && def != "0s" {
			usage += " (default: " + def + ")"
		}
		fmt.Fprintf(b, ".TP\n%s\n%s\n", head, roff(strings.ReplaceAll(usage, "`", "")))
	}
}

// flagPlaceholder names a flag's value: the `WORD` of its usage, else its
// kind, else its name.
func flagPlaceholder(f cli.Flag) string {
	if d, ok := f.(cli.DocGenerationFlag); ok {
		if u := d.GetUsage(); strings.Count(u, "`") >= 2 {
			return strings.Split(u, "`")[1]
		}
	}
	switch f.(type) {
	case *cli.DurationFlag:
		return "DURATION"
	case *cli.IntFlag, *cli.Int64Flag, *cli.UintFlag:
		return "N"
	}
	return strings.ToUpper(strings.ReplaceAll(f.Names()[0], "-", "_"))
}

// roff escapes text for a roff line: backslashes, hyphens, and a leading
// dot or quote that would make it a request.
func roff(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	s = strings.ReplaceAll(s, "-", `\-`)
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, ".") || strings.HasPrefix(l, "'") {
			lines[i] = `\&` + l
		}
	}
	return strings.Join(lines, "\n")
}
