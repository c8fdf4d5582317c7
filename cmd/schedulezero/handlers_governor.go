package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/schedulezero/schedulezero/pkg/client"
	"github.com/schedulezero/schedulezero/pkg/governor"
	gclient "github.com/schedulezero/schedulezero/pkg/governor/client"
	"github.com/schedulezero/schedulezero/pkg/handlername"
	"github.com/schedulezero/schedulezero/pkg/scheduler/schedtype"
	"github.com/schedulezero/schedulezero/pkg/store"
)

// defaultGovernor is the packaged governor's API socket.
const defaultGovernor = "unix:/run/schedulezero/governor.sock"

// statusUnregistered is the STATUS of a handler the governor runs but the
// scheduler has not (yet) registered.
const statusUnregistered = "unregistered"

// handlersGovernedCommand is `schedulezero handlers`: the scheduler's
// registry merged with the governor's runtime view, and the subcommands
// that manage handlers through the governor.
func handlersGovernedCommand() *cli.Command {
	nameCmd := func(name, usage string, action cli.ActionFunc, flags ...cli.Flag) *cli.Command {
		return &cli.Command{Name: name, Usage: usage, ArgsUsage: "NAME", Flags: flags,
			Action: action}
	}
	stopTimeout := &cli.DurationFlag{Name: "stop-timeout", Usage: "SIGTERM to SIGKILL wait (0: the governor's default)"}
	return &cli.Command{
		Name:  "handlers",
		Usage: "list handlers (the scheduler's registry with the governor's runtime and health view) and manage them through the governor",
		Description: "Without a subcommand: the same as `handlers list`. When the governor does not answer, the\n" +
			"scheduler's list is shown alone; the subcommands other than list need the governor.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "governor", EnvVars: []string{"SZ_GOVERNOR"}, DefaultText: "a running demo's (" + demoFileHelp + "), else " + defaultGovernor,
				Usage: `governor API address: "unix:/path/to/governor.sock" or "http://host:port"`},
		},
		Action: handlersView,
		Subcommands: []*cli.Command{
			{Name: "list", Usage: "list handlers: registration, unit state, health, restarts", Action: handlersView},
			{
				Name: "add", Usage: "configure a handler, enable it at boot and start it", ArgsUsage: "NAME",
				UsageText: `schedulezero handlers add NAME --kind dingaling|exec [--methods JSON] [--endpoint E] [--scheduler E] [--concurrency N] [--max-restarts N] [--restart-delay D] [--no-auto-restart]`,
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "kind", Usage: "handler kind: dingaling or exec"},
					&cli.StringFlag{Name: "methods", Usage: `exec methods as JSON: {"name":{"command":["/path/prog","arg"]}}`},
					&cli.StringFlag{Name: "endpoint", Usage: "job endpoint the handler binds (default: a free tcp://127.0.0.1 port)"},
					&cli.StringFlag{Name: "scheduler", Usage: "scheduler registration endpoint (default: the governor's)"},
					&cli.IntFlag{Name: "concurrency", Usage: "jobs at once (0: the handler's default)"},
					&cli.IntFlag{Name: "max-restarts", Usage: "restart budget (0: the governor's default, 5)"},
					&cli.DurationFlag{Name: "restart-delay", Usage: "first restart backoff, doubled each time (0: 1s)"},
					&cli.BoolFlag{Name: "no-auto-restart", Usage: "leave the handler down when it crashes or hangs"},
					&cli.DurationFlag{Name: "ping-interval", Usage: "the handler's heartbeat to the scheduler (0: its default)"},
					&cli.StringFlag{Name: "secret-file", Usage: "file with the handler's shared secret"},
				},
				Action: handlersAdd,
			},
			nameCmd("remove", "stop a handler, disable it and delete its configuration", handlersRemove, stopTimeout),
			nameCmd("start", "start a handler; resets its restart budget", handlersStart),
			nameCmd("stop", "stop a handler; the governor leaves it stopped", handlersStop, stopTimeout),
			nameCmd("restart", "restart a handler; resets its restart budget", handlersRestart),
			nameCmd("status", "show one handler: unit, process, health, restarts, registration", handlersStatus),
		},
	}
}

// governorClient builds the governor client from --governor, $SZ_GOVERNOR,
// a running demo's file or defaultGovernor, in that order; explicit tells
// whether an address was given or found (then an unreachable governor is worth a warning).
func governorClient(c *cli.Context) (*gclient.Client, bool, error) {
	addr := c.String("governor")
	if addr == "" {
		if f, ok := readDemoFile(); ok && f.Governor != "" {
			addr = f.Governor
		}
	}
	explicit := addr != ""
	if !explicit {
		addr = defaultGovernor
	}
	gc, err := gclient.New(addr)
	if err != nil {
		return nil, explicit, cli.Exit("--governor: "+err.Error(), exitUsage)
	}
	return gc, explicit, nil
}

// callContext bounds one governor call: the global --timeout plus extra.
func callContext(c *cli.Context, extra time.Duration) (context.Context, context.CancelFunc) {
	d := root(c).Duration("timeout")
	if d <= 0 {
		d = gclient.DefaultTimeout
	}
	return context.WithTimeout(c.Context, d+extra)
}

// governorFailure maps a governor API or transport error to a message and
// an exit code, as apiFailure does for the scheduler.
func governorFailure(err error) error {
	var ae *client.APIError
	switch {
	case errors.As(err, &ae):
		code := exitGeneral
		switch {
		case ae.Status == http.StatusNotFound:
			code = exitNotFound
		case ae.Status == http.StatusConflict:
			code = exitConflict
		case ae.Status == http.StatusBadRequest:
			code = exitUsage
		}
		return cli.Exit("governor: "+ae.Error(), code)
	case errors.Is(err, gclient.ErrUnreachable):
		return cli.Exit(err.Error()+"\n(is schedulezero-governor running? set --governor or SZ_GOVERNOR)", exitUnreachable)
	}
	return cli.Exit(err.Error(), exitGeneral)
}

// handlerView is one row of `handlers list --json`: the scheduler's
// registration (the fields of GET /api/v1/handlers) and, when the governor
// answered, its runtime view.
type handlerView struct {
	schedtype.HandlerStatus
	Governor *governor.HandlerInfo `json:"governor,omitempty"`
}

type handlerViewList struct {
	Handlers []handlerView `json:"handlers"`
}

// mergeHandlers joins the scheduler's registry and the governor's list by
// name, sorted by name. A handler only the governor knows is
// "unregistered".
func mergeHandlers(regs []schedtype.HandlerStatus, infos []governor.HandlerInfo) []handlerView {
	byID := map[string]*handlerView{}
	for _, r := range regs {
		byID[r.ID] = &handlerView{HandlerStatus: r}
	}
	for _, hi := range infos {
		v, ok := byID[hi.Name]
		if !ok {
			v = &handlerView{HandlerStatus: schedtype.HandlerStatus{Handler: store.Handler{ID: hi.Name, Address: hi.Endpoint,
				Status: statusUnregistered}}}
			byID[hi.Name] = v
		}
		v.Governor = &hi
	}
	out := make([]handlerView, 0, len(byID))
	for _, v := range byID {
		out = append(out, *v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// handlersView lists the handlers: merged when the governor answers, the
// scheduler's list alone when it does not.
func handlersView(c *cli.Context) error {
	gc, explicit, err := governorClient(c)
	if err != nil {
		return err
	}
	defer gc.Close()
	ctx, cancel := callContext(c, 0)
	defer cancel()
	infos, gerr := gc.List(ctx)
	if gerr != nil {
		if !errors.Is(gerr, gclient.ErrUnreachable) {
			return governorFailure(gerr)
		}
		if explicit {
			fmt.Fprintf(c.App.ErrWriter, "schedulezero: %v; showing the scheduler's view only\n", gerr)
		}
		return handlersList(c)
	}
	cl, err := newClient(c)
	if err != nil {
		return err
	}
	defer cl.Close()
	regs, serr := cl.Handlers(ctx)
	if serr != nil {
		fmt.Fprintf(c.App.ErrWriter, "schedulezero: scheduler: %v; showing the governor's view only\n", serr)
	}
	views := mergeHandlers(regs, infos)
	if jsonOutput(c) {
		return printJSON(c.App.Writer, handlerViewList{Handlers: views})
	}
	rows := make([][]string, 0, len(views))
	for _, v := range views {
		unit, pid, health, ping, errs, restarts := "-", "-", "-", "-", "-", "-"
		lastSeen := v.LastSeen
		if g := v.Governor; g != nil {
			unit, pid, health = unitState(*g), pidText(g.PID), healthText(*g)
			ping = fmtMS(time.Duration(g.Health.LatencyEWMA)) + "/" + fmtMS(time.Duration(g.Health.P99))
			errs = fmt.Sprintf("%.1f%%", g.Health.ErrorRate*100)
			restarts = fmt.Sprint(g.Restarts)
			if lastSeen.IsZero() {
				lastSeen = g.Health.LastSeen
			}
		}
		rows = append(rows, []string{v.ID, v.Status, unit, pid, health, ping, errs, restarts, fmtTime(lastSeen), strings.Join(v.Methods, ",")})
	}
	return table(c.App.Writer, []string{"ID", "STATUS", "UNIT", "PID", "HEALTH", "PING EWMA/P99", "PING ERRORS", "RESTARTS", "LAST SEEN", "METHODS"}, rows)
}

func unitState(h governor.HandlerInfo) string {
	if h.SubState == "" {
		return h.State
	}
	return h.State + "/" + h.SubState
}

func pidText(pid int) string {
	if pid <= 0 {
		return "-"
	}
	return fmt.Sprint(pid)
}

// healthText says in a word or two how the governor judges a handler.
func healthText(h governor.HandlerInfo) string {
	switch {
	case h.Healthy:
		return "healthy"
	case h.Health.FailedChecks > 0:
		return fmt.Sprintf("failing (%d pings)", h.Health.FailedChecks)
	case h.State == governor.StateActive:
		return "starting"
	}
	return "down"
}

func fmtMS(d time.Duration) string {
	return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
}

// handlerConfig turns the add flags into a HandlerConfig.
func handlerConfig(c *cli.Context, name string) (governor.HandlerConfig, error) {
	cfg := governor.HandlerConfig{Name: name, Kind: c.String("kind"), Endpoint: c.String("endpoint"),
		Scheduler: c.String("scheduler"), Concurrency: c.Int("concurrency"), MaxRestarts: c.Int("max-restarts"),
		RestartDelay: handlername.Duration(c.Duration("restart-delay"))}
	if cfg.Kind == "" {
		return cfg, usagef("handlers add: --kind is required (dingaling or exec)")
	}
	if m := c.String("methods"); m != "" {
		if err := json.Unmarshal([]byte(m), &cfg.Methods); err != nil {
			return cfg, usagef(`handlers add: --methods: not a JSON object of methods: %v (use {"name":{"command":["/path/prog"]}})`, err)
		}
	}
	if c.Bool("no-auto-restart") {
		off := false
		cfg.AutoRestart = &off
	}
	extra := map[string]json.RawMessage{}
	if d := c.Duration("ping-interval"); d > 0 {
		extra["ping_interval"], _ = json.Marshal(d.String())
	}
	if f := c.String("secret-file"); f != "" {
		extra["secret_file"], _ = json.Marshal(f)
	}
	if len(extra) > 0 {
		cfg.Extra = extra
	}
	return cfg, nil
}

func handlersAdd(c *cli.Context) error {
	return withGovernor(c, 0, func(ctx context.Context, gc *gclient.Client, name string) error {
		cfg, err := handlerConfig(c, name)
		if err != nil {
			return err
		}
		hi, err := gc.Add(ctx, cfg)
		if err != nil {
			return governorFailure(err)
		}
		return printInfo(c, "added", hi)
	})
}

func handlersRemove(c *cli.Context) error {
	d := c.Duration("stop-timeout")
	return withGovernor(c, max(d, governor.DefaultStopTimeout), func(ctx context.Context, gc *gclient.Client, name string) error {
		if err := gc.Remove(ctx, name, d); err != nil {
			return governorFailure(err)
		}
		if jsonOutput(c) {
			return printJSON(c.App.Writer, map[string]string{"removed": name})
		}
		_, err := fmt.Fprintf(c.App.Writer, "removed %s: stopped, disabled, configuration deleted\n", escapeText(name))
		return err
	})
}

// withGovernor calls call with a governor client and the handler NAME of
// c's one argument, within the call deadline plus extra.
func withGovernor(c *cli.Context, extra time.Duration, call func(ctx context.Context, gc *gclient.Client, name string) error) error {
	name, err := oneArg(c, "handler NAME")
	if err != nil {
		return err
	}
	gc, _, err := governorClient(c)
	if err != nil {
		return err
	}
	defer gc.Close()
	ctx, cancel := callContext(c, extra)
	defer cancel()
	return call(ctx, gc, name)
}

// handlerVerb runs start, stop or restart and prints the handler after.
func handlerVerb(c *cli.Context, verb string, extra time.Duration,
	call func(ctx context.Context, gc *gclient.Client, name string) (governor.HandlerInfo, error)) error {
	return withGovernor(c, extra, func(ctx context.Context, gc *gclient.Client, name string) error {
		hi, err := call(ctx, gc, name)
		if err != nil {
			return governorFailure(err)
		}
		return printInfo(c, verb, hi)
	})
}

func handlersStart(c *cli.Context) error {
	return handlerVerb(c, "started", 0, func(ctx context.Context, gc *gclient.Client, n string) (governor.HandlerInfo, error) {
		return gc.Start(ctx, n)
	})
}

func handlersStop(c *cli.Context) error {
	d := c.Duration("stop-timeout")
	return handlerVerb(c, "stopped", max(d, governor.DefaultStopTimeout), func(ctx context.Context, gc *gclient.Client, n string) (governor.HandlerInfo, error) {
		return gc.Stop(ctx, n, d)
	})
}

func handlersRestart(c *cli.Context) error {
	return handlerVerb(c, "restarted", governor.DefaultStopTimeout, func(ctx context.Context, gc *gclient.Client, n string) (governor.HandlerInfo, error) {
		return gc.Restart(ctx, n)
	})
}

// printInfo prints the outcome of a change: one line, or the HandlerInfo
// with --json.
func printInfo(c *cli.Context, verb string, hi governor.HandlerInfo) error {
	if jsonOutput(c) {
		return printJSON(c.App.Writer, hi)
	}
	_, err := fmt.Fprintf(c.App.Writer, "%s %s: %s %s, pid %s, endpoint %s\n", verb, escapeText(hi.Name), escapeText(hi.Unit), escapeText(unitState(hi)), pidText(hi.PID), escapeText(hi.Endpoint))
	return err
}

func handlersStatus(c *cli.Context) error {
	return withGovernor(c, 0, func(ctx context.Context, gc *gclient.Client, name string) error {
		hi, err := gc.Status(ctx, name)
		if err != nil {
			return governorFailure(err)
		}
		if jsonOutput(c) {
			return printJSON(c.App.Writer, hi)
		}
		return writeStatus(c.App.Writer, hi)
	})
}

// writeStatus renders one HandlerInfo for people.
func writeStatus(w io.Writer, hi governor.HandlerInfo) error {
	yes := map[bool]string{true: "yes", false: "no"}
	dash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	mem := "-"
	if hi.MemoryBytes > 0 {
		mem = fmt.Sprintf("%.1f MiB", float64(hi.MemoryBytes)/(1<<20))
	}
	h := hi.Health
	rows := [][]string{
		{"name:", hi.Name},
		{"unit:", hi.Unit},
		{"kind:", hi.Kind},
		{"endpoint:", hi.Endpoint},
		{"state:", unitState(hi)},
		{"enabled:", yes[hi.Enabled]},
		{"pid:", pidText(hi.PID)},
		{"since:", fmtTime(hi.Since)},
		{"memory:", mem},
		{"restarts:", fmt.Sprint(hi.Restarts)},
		{"last error:", dash(hi.LastError)},
		{"health:", healthText(hi)},
		{"ping:", fmt.Sprintf("ewma %s, p99 %s, %.1f%% failed of %d checks, %d failing now",
			fmtMS(time.Duration(h.LatencyEWMA)), fmtMS(time.Duration(h.P99)), h.ErrorRate*100, h.Checks, h.FailedChecks)},
		{"last seen:", fmtTime(h.LastSeen)},
		{"registered:", dash(hi.Registered)},
	}
	for _, r := range rows {
		if _, err := fmt.Fprintf(w, "%-12s %s\n", r[0], escapeText(r[1])); err != nil {
			return err
		}
	}
	return nil
}
