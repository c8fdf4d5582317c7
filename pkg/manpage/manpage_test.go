package manpage

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// newApp is a small app shaped like the ScheduleZero CLI.
func newApp(out *bytes.Buffer, section int) *cli.App {
	return &cli.App{
		Name:   "sz",
		Usage:  "manage schedules",
		Writer: out, ErrWriter: out,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "api", Value: "http://127.0.0.1:8888", EnvVars: []string{"SZ_API"}, Usage: "scheduler API address"},
		},
		Commands: []*cli.Command{
			{Name: "schedule", Usage: "manage schedules", Subcommands: []*cli.Command{
				{Name: "add", Usage: "add a schedule", Flags: []cli.Flag{&cli.DurationFlag{Name: "every", Usage: "interval"}}},
				{Name: "list", Aliases: []string{"ls"}, Usage: "list schedules"},
			}},
			{Name: "history", Usage: "show attempts"},
			Command(section),
		},
		ExitErrHandler: func(*cli.Context, error) {},
	}
}

// run runs the app and returns what it printed.
func run(t *testing.T, section int, args ...string) string {
	t.Helper()
	var out bytes.Buffer
	if err := newApp(&out, section).Run(append([]string{"sz"}, args...)); err != nil {
		t.Fatalf("sz %v: %v", args, err)
	}
	return out.String()
}

func TestCommand(t *testing.T) {
	tests := []struct {
		name    string
		section int
		want    []string
		notWant []string
	}{
		{"section 1", 1, []string{`.TH sz 1`, `sz \- manage schedules`, "--api", "schedule", "add", "--every", "list, ls", "history"}, []string{"print this program's man page"}},
		{"section 8", 8, []string{`.TH sz 8`}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			page := run(t, tt.section, CommandName)
			for _, w := range tt.want {
				if !strings.Contains(page, w) {
					t.Errorf("page lacks %q:\n%s", w, page)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(page, w) {
					t.Errorf("page has %q (the man command is hidden):\n%s", w, page)
				}
			}
		})
	}
}

func TestCommandIsHidden(t *testing.T) {
	help := run(t, 1, "--help")
	if strings.Contains(help, " "+CommandName+" ") {
		t.Errorf("help lists the hidden man command:\n%s", help)
	}
	// genman detects the hook with `NAME man --help`.
	if h := run(t, 1, CommandName, "--help"); !strings.Contains(h, " "+CommandName+" - ") {
		t.Errorf("`sz man --help` does not name the command:\n%s", h)
	}
}

func TestSetTitle(t *testing.T) {
	title := Title{Name: "sz", Section: 8, Date: "2026-11-28", Source: "schedulezero 0.1.0", Manual: "ScheduleZero Manual"}
	want := `.TH "SZ" "8" "2026-11-28" "schedulezero 0.1.0" "ScheduleZero Manual"` + "\n"
	tests := []struct {
		name, page, want string
	}{
		{"replaces", ".TH sz 8\n.SH NAME\n", want + ".SH NAME\n"},
		{"replaces only the first", ".TH a\n.TH b\n", want + ".TH b\n"},
		{"prepends", ".SH NAME\n", want + ".SH NAME\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := SetTitle(tt.page, title); got != tt.want {
				t.Errorf("SetTitle(%q) = %q, want %q", tt.page, got, tt.want)
			}
		})
	}
}

func TestSubcommands(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"top", []string{"--help"}, "schedule history"},
		{"nested", []string{"schedule", "--help"}, "add list"},
		{"leaf", []string{"schedule", "add", "--help"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := strings.Join(Subcommands(run(t, 1, tt.args...)), " "); got != tt.want {
				t.Errorf("Subcommands = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestFromHelp(t *testing.T) {
	title := Title{Name: "sz", Section: 1, Date: "2026-11-28", Source: "schedulezero 0.1.0", Manual: "ScheduleZero Manual"}
	page := FromHelp(title, []Help{
		{Text: run(t, 1, "--help")},
		{Path: "schedule add", Text: run(t, 1, "schedule", "add", "--help")},
	})
	for _, w := range []string{
		title.String(),
		".SH NAME\nsz \\- manage schedules\n",
		".SH GLOBAL OPTIONS\n",
		".B \\-\\-api value\n",
		`.SH "COMMANDS IN DETAIL"`,
		`.SS "sz schedule add"`,
		".B \\-\\-every value\n",
	} {
		if !strings.Contains(page, w) {
			t.Errorf("page lacks %q:\n%s", w, page)
		}
	}
	for i, line := range strings.Split(page, "\n") {
		if strings.HasPrefix(line, "'") || (strings.HasPrefix(line, ".") && !strings.HasPrefix(line, ".TH") &&
			!strings.HasPrefix(line, ".SH") && !strings.HasPrefix(line, ".SS") && !strings.HasPrefix(line, ".TP") &&
			!strings.HasPrefix(line, ".B ") && !strings.HasPrefix(line, ".PP")) {
			t.Errorf("line %d is an unexpected roff request: %q", i+1, line)
		}
	}
}

func TestEscape(t *testing.T) {
	tests := []struct{ in, want string }{
		{"--api", `\-\-api`},
		{`C:\path`, `C:\epath`},
		{".hidden", `\&.hidden`},
		{"'quote", `\&'quote`},
		{"plain", "plain"},
	}
	for _, tt := range tests {
		if got := escape(tt.in); got != tt.want {
			t.Errorf("escape(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestPagesRenderCleanly renders both kinds of page with man(1) the way
// lintian does (manpage-has-errors-from-man): no warnings allowed.
func TestPagesRenderCleanly(t *testing.T) {
	if _, err := exec.LookPath("man"); err != nil {
		t.Skip("man(1) is not installed")
	}
	title := Title{Name: "sz", Section: 1, Date: "2026-11-28", Source: "schedulezero 0.1.0", Manual: "ScheduleZero Manual"}
	tests := []struct{ name, page string }{
		{"man subcommand", SetTitle(run(t, 1, CommandName), title)},
		{"help fallback", FromHelp(title, []Help{
			{Text: run(t, 1, "--help")},
			{Path: "schedule", Text: run(t, 1, "schedule", "--help")},
			{Path: "schedule add", Text: run(t, 1, "schedule", "add", "--help")},
		})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "sz.1")
			if err := os.WriteFile(path, []byte(tt.page), 0o644); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, "man", "--warnings", "-E", "UTF-8", "-l", "-Tutf8", "-Z", path)
			cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8", "MANWIDTH=80")
			var stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = nil, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("man: %v: %s", err, stderr.String())
			}
			if stderr.Len() > 0 {
				t.Errorf("man warnings:\n%s\npage:\n%s", stderr.String(), tt.page)
			}
		})
	}
}

// TestFromHelpDaemon: a program without subcommands (a daemon) gets no
// COMMANDS section listing only "help", no VERSION section (the title line
// has the version), and a usage line without "command".
func TestFromHelpDaemon(t *testing.T) {
	help := `NAME:
   szd - serve things

USAGE:
   szd [global options] command [command options]

VERSION:
   0.1.0

COMMANDS:
   help, h  Shows a list of commands or help for one command

GLOBAL OPTIONS:
   --name value  instance name [$SZ_NAME]
   --help, -h    show help
`
	title := Title{Name: "szd", Section: 8, Date: "2026-11-28", Source: "schedulezero 0.1.0", Manual: "ScheduleZero Manual"}
	page := FromHelp(title, []Help{{Text: help}})
	for _, w := range []string{".SH NAME\nszd \\- serve things\n", ".SH USAGE\n.PP\nszd [global options]\n",
		".SH GLOBAL OPTIONS\n", ".B \\-\\-name value\ninstance name [$SZ_NAME]\n"} {
		if !strings.Contains(page, w) {
			t.Errorf("page lacks %q:\n%s", w, page)
		}
	}
	for _, w := range []string{".SH COMMANDS", ".SH VERSION", "0.1.0\n", "Shows a list of commands"} {
		if strings.Contains(page, w) {
			t.Errorf("page has %q:\n%s", w, page)
		}
	}
}
