package main

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/schedulezero/schedulezero/pkg/unitgen"
)

func unitsCommand() *cli.Command {
	return &cli.Command{
		Name:  "units",
		Usage: "the systemd units of ScheduleZero",
		Subcommands: []*cli.Command{{
			Name:  "generate",
			Usage: "write the systemd units, sysusers.d and tmpfiles.d files (units/ of the source tree)",
			UsageText: `schedulezero units generate [--dir DIR] [--prefix /usr] [--user NAME] [--check]

Renders every unit from pkg/unitgen, the one source of truth for paths, the
user and the hardening, so that units/, the package and a local install
agree. --check writes nothing and exits 1 when DIR differs.`,
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "dir", Value: "units", Usage: "output `DIR`"},
				&cli.StringFlag{Name: "prefix", Value: unitgen.Default().Prefix, Usage: "install prefix of the binaries (daemons in PREFIX/sbin)"},
				&cli.StringFlag{Name: "user", Value: unitgen.Default().User, Usage: "system user (and group) of the daemons"},
				&cli.BoolFlag{Name: "check", Usage: "compare DIR with the generator instead of writing"},
			},
			Action: unitsGenerate,
		}},
	}
}

func unitsGenerate(c *cli.Context) error {
	if c.NArg() > 0 {
		return usagef("units generate takes no arguments (got %q); use --dir", c.Args().First())
	}
	cfg := unitgen.Default()
	cfg.Prefix, cfg.User, cfg.Group = c.String("prefix"), c.String("user"), c.String("user")
	if err := cfg.Validate(); err != nil {
		return usagef("%v", err)
	}
	dir := c.String("dir")
	if c.Bool("check") {
		differ, extra, err := unitgen.Stale(dir, cfg)
		if err != nil {
			return cli.Exit(err.Error(), exitGeneral)
		}
		if len(differ)+len(extra) > 0 {
			return cli.Exit(fmt.Sprintf("%s is stale: differs in [%s], not generated [%s]; run: schedulezero units generate --dir %s",
				dir, strings.Join(differ, " "), strings.Join(extra, " "), dir), exitGeneral)
		}
		fmt.Fprintf(c.App.Writer, "%s is up to date (%d files)\n", dir, len(unitgen.Files()))
		return nil
	}
	if err := unitgen.Write(dir, cfg); err != nil {
		return cli.Exit(err.Error(), exitGeneral)
	}
	fmt.Fprintf(c.App.Writer, "wrote %d files to %s\n", len(unitgen.Files()), dir)
	return nil
}
