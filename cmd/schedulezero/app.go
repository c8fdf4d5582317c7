package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/schedulezero/schedulezero/pkg/api"
	"github.com/schedulezero/schedulezero/pkg/client"
	"github.com/schedulezero/schedulezero/pkg/version"
)

// Exit codes.
const (
	exitGeneral     = 1
	exitUsage       = 2 // usage or bad input
	exitNotFound    = 3
	exitConflict    = 4
	exitUnreachable = 5 // the scheduler's API did not answer
)

// The API address when --api and SZ_API are unset and no demo runs: the
// packaged scheduler's unix socket if it exists, else the scheduler
// binary's default TCP address.
const (
	defaultAPISocket = "/run/schedulezero/api.sock"
	defaultAPI       = "http://127.0.0.1:8888"
)

// run turns SIGINT and SIGTERM into a context and runs the app.
func run(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return execute(ctx, args, os.Stdout, os.Stderr)
}

// execute runs the app with the given streams and returns the exit code;
// tests call it directly.
func execute(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return executeApp(ctx, newApp(stdout, stderr), args, stderr)
}

// executeApp runs app and maps its error to a message on stderr and an exit
// code.
func executeApp(ctx context.Context, app *cli.App, args []string, stderr io.Writer) int {
	args, err := arrangeArgs(app, args)
	if err == nil {
		err = app.RunContext(ctx, args)
	}
	if err == nil {
		return 0
	}
	code := exitGeneral
	var ec cli.ExitCoder
	if errors.As(err, &ec) {
		code = ec.ExitCode()
	}
	if msg := err.Error(); msg != "" {
		fmt.Fprintln(stderr, "schedulezero: "+escapeLines(msg))
	}
	return code
}

// usageError maps urfave/cli's parse errors to exit 2, with a fix for a
// bad value: `invalid value "10" for flag -every: parse error` becomes
// `--every "10": a duration needs a unit, e.g. 10s`.
func usageError(c *cli.Context, err error, _ bool) error {
	m := badValueRE.FindStringSubmatch(err.Error())
	if m == nil {
		return cli.Exit(err.Error(), exitUsage)
	}
	value, name := m[1], m[2]
	var flags []cli.Flag
	if c.Command != nil {
		flags = c.Command.Flags
	}
	if c.App != nil {
		flags = append(flags, c.App.Flags...)
	}
	fix := "not a valid value"
	for _, f := range flags {
		if !slices.Contains(f.Names(), name) {
			continue
		}
		switch f.(type) {
		case *cli.DurationFlag:
			fix = "not a duration: use a number with a unit, e.g. 10s, 1m30s, 2h"
			if _, err := strconv.ParseFloat(value, 64); err == nil {
				fix = "a duration needs a unit: " + value + "s, " + value + "m or " + value + "h"
			}
		case *cli.IntFlag, *cli.Int64Flag, *cli.UintFlag:
			fix = "not a whole number"
		}
		break
	}
	dashes := "--"
	if len(name) == 1 {
		dashes = "-"
	}
	return cli.Exit(fmt.Sprintf("%s%s %q: %s", dashes, name, value, fix), exitUsage)
}

var badValueRE = regexp.MustCompile(`invalid value "(.*)" for flag -+([^:\s]+)`)

func newApp(stdout, stderr io.Writer) *cli.App {
	app := &cli.App{
		Name:    "schedulezero",
		Usage:   "manage ScheduleZero schedules, handlers and history",
		Version: version.String(),
		Writer:  stdout, ErrWriter: stderr,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "api", EnvVars: []string{"SZ_API"}, DefaultText: "a running demo's (" + demoFileHelp + "), else unix:" + defaultAPISocket + " if it exists, else " + defaultAPI,
				Usage: `scheduler API address: "http://host:port" or "unix:/path/to/api.sock"`},
			&cli.StringFlag{Name: "api-token-file", EnvVars: []string{"SZ_API_TOKEN_FILE"}, DefaultText: "$CREDENTIALS_DIRECTORY/api-token if it exists",
				Usage: "file holding the API bearer token (or set SZ_API_TOKEN)"},
			&cli.BoolFlag{Name: "json", EnvVars: []string{"SZ_JSON"}, Usage: "print JSON for scripts instead of tables"},
			&cli.DurationFlag{Name: "timeout", Value: client.DefaultTimeout, EnvVars: []string{"SZ_TIMEOUT"}, Usage: "bound of each API call"},
		},
		Commands: []*cli.Command{
			scheduleCommand(), handlersGovernedCommand(), historyCommand(), eventsCommand(), statsCommand(), notifyCommand(), calendarCommand(), demoCommand(), keysCommand(), unitsCommand(), applyCommand(), importCommand(), versionCommand(), completionCommand(), hiddenCompleteCommand(), manCommand(),
		},
		Metadata:       map[string]any{clockKey: clock{now: time.Now, loc: time.Local}},
		OnUsageError:   usageError,
		ExitErrHandler: func(*cli.Context, error) {}, // execute maps errors to codes; never os.Exit here
	}
	setUsageErrors(app.Commands)
	return app
}

// clock is the time source of the commands that read or print wall-clock
// times (calendar, schedule backfill); tests replace it in App.Metadata.
type clock struct {
	now func() time.Time
	loc *time.Location // the local zone
}

const clockKey = "clock"

func appClock(c *cli.Context) clock {
	if ck, ok := c.App.Metadata[clockKey].(clock); ok {
		return ck
	}
	return clock{now: time.Now, loc: time.Local}
}

func setUsageErrors(cmds []*cli.Command) {
	for _, c := range cmds {
		c.OnUsageError = usageError
		setUsageErrors(c.Subcommands)
	}
}

// root returns the top-level context, where the global flags live (a
// subcommand may define a flag of the same name, like schedule add --timeout).
func root(c *cli.Context) *cli.Context {
	l := c.Lineage()
	for i := len(l) - 1; i > 0; i-- {
		if l[i].App != nil { // the outermost context wraps the caller's ctx and has no App
			return l[i]
		}
	}
	return c
}

// newClient builds the API client from the global flags.
func newClient(c *cli.Context) (*client.Client, error) {
	r := root(c)
	addr := apiAddress(r.String("api"))
	if d := r.Duration("timeout"); d <= 0 {
		return nil, usagef("--timeout %s: the bound of each API call must be positive, e.g. --timeout 30s", d)
	}
	opts := []client.Option{client.WithTimeout(r.Duration("timeout"))}
	token, err := apiToken(r.String("api-token-file"))
	if err != nil {
		return nil, cli.Exit("--api-token-file: "+err.Error(), exitUsage)
	}
	if token != "" {
		opts = append(opts, client.WithToken(token))
	}
	cl, err := client.New(addr, opts...)
	if err != nil {
		return nil, cli.Exit("--api: "+err.Error(), exitUsage)
	}
	return cl, nil
}

// apiAddress resolves the scheduler's API address: --api, then $SZ_API
// (both in flag), then a running demo's file, then the packaged socket if
// it exists, then defaultAPI.
func apiAddress(flag string) string {
	if flag != "" {
		return flag
	}
	if f, ok := readDemoFile(); ok {
		return f.API
	}
	if fi, err := os.Stat(defaultAPISocket); err == nil && fi.Mode()&os.ModeSocket != 0 {
		return "unix:" + defaultAPISocket
	}
	return defaultAPI
}

// apiToken finds the API bearer token the way the scheduler finds its
// tokens (api.LoadTokens: a file named by --api-token-file, else the
// systemd credential api-token), with $SZ_API_TOKEN in between. No token is
// not an error: a unix socket needs none.
func apiToken(file string) (string, error) {
	if t := os.Getenv("SZ_API_TOKEN"); file == "" && t != "" {
		return strings.TrimSpace(t), nil
	}
	tokens, err := api.LoadTokens(file)
	if err != nil || len(tokens) == 0 {
		return "", err
	}
	return tokens[0], nil
}

func jsonOutput(c *cli.Context) bool { return root(c).Bool("json") }

// apiFailure maps an API or transport error to a message and exit code.
func apiFailure(err error) error {
	var ae *client.APIError
	switch {
	case errors.As(err, &ae):
		code := exitGeneral
		switch {
		case ae.Status == 404:
			code = exitNotFound
		case ae.Status == 409:
			code = exitConflict
		case ae.Status >= 400 && ae.Status < 500 && ae.Status != 401 && ae.Status != 403:
			code = exitUsage
		}
		return cli.Exit(ae.Error(), code)
	case errors.Is(err, client.ErrUnreachable):
		return cli.Exit(err.Error()+"\n(is the scheduler running? set --api or SZ_API)", exitUnreachable)
	}
	return cli.Exit(err.Error(), exitGeneral)
}

func usagef(format string, args ...any) error {
	return cli.Exit(fmt.Sprintf(format, args...), exitUsage)
}

// oneArg returns the single positional argument named what.
func oneArg(c *cli.Context, what string) (string, error) {
	if c.NArg() != 1 || c.Args().First() == "" {
		return "", usagef("%s: expected exactly one %s argument", strings.TrimPrefix(c.Command.HelpName, c.App.Name+" "), what)
	}
	return c.Args().First(), nil
}

// fmtTime shows t in the user's zone (TZ, else /etc/localtime).
func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.In(time.Local).Format("2006-01-02 15:04:05Z07:00")
}
