package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/schedulezero/schedulezero/pkg/schedfile"
	"github.com/schedulezero/schedulezero/pkg/schedimport"
)

func importCommand() *cli.Command {
	flags := func(handler string) []cli.Flag {
		return []cli.Flag{
			&cli.StringFlag{Name: "handler", Value: handler, Usage: "the exec handler that runs the commands"},
			&cli.StringFlag{Name: "dir", Usage: "write the schedule files and HANDLER.json (the exec handler's config) into `DIR` instead of printing them"},
		}
	}
	return &cli.Command{
		Name:  "import",
		Usage: "turn a crontab or a systemd timer into schedule files for an exec handler",
		Subcommands: []*cli.Command{
			{
				Name: "crontab", Usage: "convert a crontab's lines", ArgsUsage: "FILE",
				Flags: append(flags("cron"),
					&cli.BoolFlag{Name: "system", Usage: "the crontab has a user field (default: when FILE is /etc/crontab or in /etc/cron.d)"},
					&cli.StringFlag{Name: "prefix", Usage: "start of the schedule ids, PREFIX-LINE (default: FILE's name)"}),
				Action: importCrontab,
			},
			{
				Name: "timer", Usage: "convert a systemd timer and its service's ExecStart=", ArgsUsage: "UNIT.timer",
				Flags: append(flags("timers"),
					&cli.StringFlag{Name: "service", Usage: "the service `FILE` (default: the timer's Unit=, or NAME.service, next to it)"}),
				Action: importTimer,
			},
		},
	}
}

func importCrontab(c *cli.Context) error {
	name, err := oneArg(c, "crontab FILE")
	if err != nil {
		return err
	}
	data, err := os.ReadFile(name)
	if err != nil {
		return cli.Exit(err.Error(), exitUsage)
	}
	system := c.Bool("system")
	if !c.IsSet("system") {
		abs, _ := filepath.Abs(name)
		system = abs == "/etc/crontab" || filepath.Dir(abs) == "/etc/cron.d"
	}
	r, err := schedimport.Crontab(name, data, schedimport.Options{Handler: c.String("handler"), Prefix: c.String("prefix"), System: system})
	if err != nil {
		return cli.Exit(err.Error(), exitUsage)
	}
	return writeImport(c, r)
}

func importTimer(c *cli.Context) error {
	name, err := oneArg(c, "UNIT.timer")
	if err != nil {
		return err
	}
	timer, err := os.ReadFile(name)
	if err != nil {
		return cli.Exit(err.Error(), exitUsage)
	}
	svc := c.String("service")
	if svc == "" {
		svc = strings.TrimSuffix(name, ".timer") + ".service"
		if u := timerUnit(timer); u != "" {
			svc = filepath.Join(filepath.Dir(name), u)
		}
	}
	service, err := os.ReadFile(svc)
	if err != nil {
		return cli.Exit(fmt.Sprintf("the timer's service: %v (name it with --service)", err), exitUsage)
	}
	r, err := schedimport.Timer(name, timer, service, svc, schedimport.Options{Handler: c.String("handler")})
	if err != nil {
		return cli.Exit(err.Error(), exitUsage)
	}
	return writeImport(c, r)
}

// timerUnit is a timer's Unit= value, if it has one.
func timerUnit(data []byte) string {
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "Unit="); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// writeImport prints or writes the schedule files and the handler's
// config, and lists on stderr what was not converted.
func writeImport(c *cli.Context, r *schedimport.Result) error {
	cfg, err := r.HandlerConfig()
	if err != nil {
		return err
	}
	w := c.App.Writer
	dir := c.String("dir")
	for _, j := range r.Jobs {
		if dir == "" {
			fmt.Fprintf(w, "# --- %s%s\n%s\n", j.Schedule.ID, schedfile.Suffix, j.File)
			continue
		}
		p := filepath.Join(dir, j.Schedule.ID+schedfile.Suffix)
		if err := os.WriteFile(p, j.File, 0o644); err != nil {
			return cli.Exit(err.Error(), exitGeneral)
		}
		fmt.Fprintln(w, "wrote", p)
	}
	cfgName := r.Handler + ".json"
	if dir == "" {
		fmt.Fprintf(w, "# --- /etc/schedulezero/handlers/%s (the exec handler's config)\n%s", cfgName, cfg)
	} else {
		p := filepath.Join(dir, cfgName)
		if err := os.WriteFile(p, cfg, 0o644); err != nil {
			return cli.Exit(err.Error(), exitGeneral)
		}
		fmt.Fprintf(w, "wrote %s (install it as /etc/schedulezero/handlers/%s)\n", p, cfgName)
	}
	for _, p := range r.Problems {
		fmt.Fprintln(c.App.ErrWriter, p)
	}
	return nil
}
