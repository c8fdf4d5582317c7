package manpage

import (
	"bufio"
	"fmt"
	"regexp"
	"strings"

	"github.com/urfave/cli/v2"
)

// CommandName is the name of the hidden subcommand added by Command.
const CommandName = "man"

// Command returns a hidden "man" subcommand that prints the man page of the
// app it belongs to, in the given section (1 for commands, 8 for daemons),
// to the app's Writer.
func Command(section int) *cli.Command {
	return &cli.Command{
		Name:   CommandName,
		Usage:  "print this program's man page (roff)",
		Hidden: true,
		Action: func(c *cli.Context) error {
			page, err := Render(c.App, section)
			if err != nil {
				return err
			}
			_, err = fmt.Fprint(c.App.Writer, page)
			return err
		},
	}
}

// Render returns the roff man page of app in section.
func Render(app *cli.App, section int) (string, error) {
	page, err := app.ToManWithSection(section)
	if err != nil {
		return "", fmt.Errorf("man page of %s: %w", app.Name, err)
	}
	return page, nil
}

// Title describes the .TH line of a page.
type Title struct {
	Name    string // program name, e.g. "schedulezero"
	Section int    // 1 or 8
	Date    string // YYYY-MM-DD, from the source's last change (never the clock)
	Source  string // e.g. "schedulezero 0.1.0"
	Manual  string // e.g. "ScheduleZero Manual"
}

// String returns the .TH request.
func (t Title) String() string {
	return fmt.Sprintf(".TH %q %q %q %q %q\n", strings.ToUpper(t.Name), fmt.Sprint(t.Section), t.Date, t.Source, t.Manual)
}

var thRE = regexp.MustCompile(`(?m)^\.TH .*\n`)

// SetTitle replaces the first .TH line of page with t's (or prepends it).
func SetTitle(page string, t Title) string {
	if loc := thRE.FindStringIndex(page); loc != nil {
		return page[:loc[0]] + t.String() + page[loc[1]:]
	}
	return t.String() + page
}

// Help is the --help text of one command of a program: Path is the command
// words after the program name ("" for the program itself).
type Help struct {
	Path string
	Text string
}

var (
	headingRE = regexp.MustCompile(`^([A-Z][A-Z ]*):\s*$`)
	entryRE   = regexp.MustCompile(`^ {3}(\S.*?)(?: {2,}|\t)(\S.*)$`)
)

// FromHelp turns the --help texts of a urfave/cli/v2 program into a roff
// man page: the first text is the program's own, the others its
// subcommands' (each becomes a subsection of COMMANDS IN DETAIL).
func FromHelp(t Title, helps []Help) string {
	var b strings.Builder
	b.WriteString(t.String())
	for i, h := range helps {
		if i == 0 {
			writeHelp(&b, h.Text, ".SH", true)
			continue
		}
		if i == 1 {
			b.WriteString(".SH \"COMMANDS IN DETAIL\"\n")
		}
		fmt.Fprintf(&b, ".SS \"%s %s\"\n", t.Name, escape(h.Path))
		writeHelp(&b, h.Text, ".TP\n.B", false)
	}
	return b.String()
}

// writeHelp renders one help text; top is true for the program's own text,
// whose headings become sections. Two parts of urfave/cli's help are left
// out: VERSION (the title line carries the version) and, for a program
// without subcommands (a daemon), the COMMANDS section, which lists only
// "help", and the "command [command options]" its usage line offers.
func writeHelp(b *strings.Builder, text, heading string, top bool) {
	leaf := len(Subcommands(text)) == 0
	section := ""
	skip := false
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), " \t")
		if m := headingRE.FindStringSubmatch(line); m != nil {
			section = m[1]
			skip = section == "VERSION" || (leaf && section == "COMMANDS")
			if skip {
				continue
			}
			if top {
				fmt.Fprintf(b, "%s %s\n", heading, section)
			} else if section != "NAME" {
				fmt.Fprintf(b, ".PP\n.B %s:\n", section)
			}
			continue
		}
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || skip {
			continue
		}
		if leaf && section == "USAGE" {
			trimmed = strings.Replace(trimmed, " command [command options]", "", 1)
		}
		switch {
		case section == "NAME":
			if top {
				name, usage, ok := strings.Cut(trimmed, " - ")
				if ok {
					fmt.Fprintf(b, "%s \\- %s\n", escape(name), escape(usage))
				} else {
					b.WriteString(escape(trimmed) + "\n")
				}
			}
		case strings.Contains(section, "OPTIONS") || strings.Contains(section, "COMMANDS"):
			if m := entryRE.FindStringSubmatch(line); m != nil {
				fmt.Fprintf(b, ".TP\n.B %s\n%s\n", escape(m[1]), escape(m[2]))
			} else if strings.HasPrefix(line, "   ") && !strings.HasPrefix(line, "    ") {
				fmt.Fprintf(b, ".TP\n.B %s\n", escape(trimmed))
			} else {
				b.WriteString(escape(trimmed) + "\n")
			}
		default:
			b.WriteString(".PP\n" + escape(trimmed) + "\n")
		}
	}
}

// escape makes text safe as roff input: backslashes, hyphens (as minus
// signs, so options can be copied), and a leading control character.
func escape(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	s = strings.ReplaceAll(s, "-", `\-`)
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		s = `\&` + s
	}
	return s
}

// Subcommands returns the command names listed in the COMMANDS section of
// a urfave/cli help text, without "help" (and its aliases).
func Subcommands(help string) []string {
	var out []string
	in := false
	sc := bufio.NewScanner(strings.NewReader(help))
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), " \t")
		if m := headingRE.FindStringSubmatch(line); m != nil {
			in = m[1] == "COMMANDS"
			continue
		}
		if !in || !strings.HasPrefix(line, "   ") || strings.HasPrefix(line, "    ") {
			continue
		}
		names := strings.Fields(line)
		if len(names) == 0 {
			continue
		}
		name := strings.TrimSuffix(names[0], ",")
		if name == "help" || name == "h" {
			continue
		}
		out = append(out, name)
	}
	return out
}
