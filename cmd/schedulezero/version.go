package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/schedulezero/schedulezero/pkg/version"
)

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print the release of this schedulezero (and the commit it was built from)",
		Action: func(c *cli.Context) error {
			if jsonOutput(c) {
				return printJSON(c.App.Writer, map[string]string{"version": version.Version, "commit": version.Commit})
			}
			_, err := fmt.Fprintln(c.App.Writer, "schedulezero "+version.String())
			return err
		},
	}
}
