package main

import (
	"slices"
	"strings"

	"github.com/urfave/cli/v2"
)

// arrangeArgs lets flags go anywhere on the command line, as with systemctl
// or git: urfave/cli v2 stops reading a command's flags at its first
// positional argument, so "calendar EXPR -n 3" would take "-n" for an
// expression. arrangeArgs walks the command words of args (args[0] is the
// program), moves every flag, with its value when the flag takes one, in
// front of the positional arguments of the innermost command that defines
// it (a global flag such as --json given after the command goes back to the
// program), and puts the positional arguments last. "--" ends the flags.
//
// An unknown command or flag is a usage error naming it.
func arrangeArgs(app *cli.App, args []string) ([]string, error) {
	if len(args) < 2 {
		return args, nil
	}
	type level struct {
		words   []string // the command word (none for the program), then its flags
		flags   []cli.Flag
		path    string // "schedulezero schedule add", for messages
		subs    []*cli.Command
		hasArgs bool // the command has an Action, so it takes positional arguments
		top     bool
	}
	levels := []*level{{flags: app.Flags, path: app.Name, subs: app.Commands, hasArgs: app.Action != nil, top: true}}
	var pos []string
	dashdash := false
	for i := 1; i < len(args); i++ {
		a, cur := args[i], levels[len(levels)-1]
		if a == "--" {
			pos, dashdash = append(pos, args[i+1:]...), true
			break
		}
		if len(a) > 1 && a[0] == '-' {
			name, _, inline := strings.Cut(strings.TrimLeft(a, "-"), "=")
			owner, takesValue := -1, false
			for j := len(levels) - 1; j >= 0 && owner < 0; j-- {
				if ok, tv := hasFlag(levels[j].flags, name, levels[j].top); ok {
					owner, takesValue = j, tv
				}
			}
			if owner < 0 {
				return nil, usagef("%s: unknown flag %s (see %s --help)", cur.path, strings.SplitN(a, "=", 2)[0], cur.path)
			}
			levels[owner].words = append(levels[owner].words, a)
			if takesValue && !inline && i+1 < len(args) {
				i++
				levels[owner].words = append(levels[owner].words, args[i])
			}
			continue
		}
		if len(pos) == 0 && len(cur.subs) > 0 {
			if a == "help" || a == "h" {
				rest := args[i+1:]
				if len(rest) == 0 || strings.HasPrefix(rest[0], "-") { // urfave's own help command
					pos = append(pos, args[i:]...)
					break
				}
				if findCommand(cur.subs, rest[0]) == nil {
					return nil, usagef("%s: unknown command %q (see %s --help)", cur.path, rest[0], cur.path)
				}
				// "help history show" is "history show --help": urfave's help
				// command shows a command with subcommands without its flags.
				args = slices.Concat(args[:i], rest, []string{"--help"})
				i--
				continue
			}
			if sub := findCommand(cur.subs, a); sub != nil {
				l := &level{words: []string{a}, flags: sub.Flags, path: cur.path + " " + sub.Name, subs: sub.Subcommands, hasArgs: sub.Action != nil}
				levels = append(levels, l)
				if sub.SkipFlagParsing { // it reads its arguments as they are (the completion helper)
					l.words = append(l.words, args[i+1:]...)
					break
				}
				continue
			}
			if !cur.hasArgs {
				return nil, usagef("%s: unknown command %q (see %s --help)", cur.path, a, cur.path)
			}
		}
		pos = append(pos, a)
	}
	out := []string{args[0]}
	for _, l := range levels {
		out = append(out, l.words...)
	}
	if dashdash || slices.ContainsFunc(pos, func(p string) bool { return strings.HasPrefix(p, "-") }) {
		if len(pos) == 0 || (pos[0] != "help" && pos[0] != "h") {
			out = append(out, "--")
		}
	}
	return append(out, pos...), nil
}

// hasFlag reports whether flags (plus the help flags every command has, and
// the version flags of the program) define name, and whether it takes a
// value.
func hasFlag(flags []cli.Flag, name string, top bool) (found, takesValue bool) {
	if name == "help" || name == "h" || (top && (name == "version" || name == "v")) {
		return true, false
	}
	for _, f := range flags {
		if slices.Contains(f.Names(), name) {
			tv, ok := f.(interface{ TakesValue() bool })
			return true, ok && tv.TakesValue()
		}
	}
	return false, false
}

func findCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.Name == name || slices.Contains(c.Aliases, name) {
			return c
		}
	}
	return nil
}
