package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/schedulezero/schedulezero/pkg/api"
	"github.com/schedulezero/schedulezero/pkg/schedfile"
)

func scheduleExportCommand() *cli.Command {
	return &cli.Command{
		Name:      "export",
		Usage:     "write schedules as schedule files (every schedule when no ID is given)",
		ArgsUsage: "[ID...]",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "dir", Usage: "write ID.schedule files into `DIR` instead of printing them"},
		},
		Action: scheduleExport,
	}
}

func scheduleExport(c *cli.Context) error {
	cl, err := newClient(c)
	if err != nil {
		return err
	}
	defer cl.Close()
	var views []api.Schedule
	if c.NArg() == 0 {
		all, err := cl.Schedules(c.Context)
		if err != nil {
			return apiFailure(err)
		}
		for _, v := range all {
			// A finished date would fire again once applied.
			if v.Done {
				fmt.Fprintf(c.App.ErrWriter, "%s: finished; not exported (name it to export it all the same)\n", v.ID)
				continue
			}
			views = append(views, v)
		}
	}
	for _, id := range c.Args().Slice() {
		v, err := cl.Schedule(c.Context, id)
		if err != nil {
			return apiFailure(err)
		}
		views = append(views, v)
	}
	opts := schedfile.RenderOptions{DefaultZone: schedulerZone(c.Context, cl).String()}
	dir := c.String("dir")
	for i, v := range views {
		s, err := schedfile.FromAPI(v)
		if err != nil {
			return cli.Exit(err.Error(), exitGeneral)
		}
		text := schedfile.Render(s, opts)
		if dir == "" {
			if i > 0 {
				fmt.Fprintln(c.App.Writer)
			}
			if _, err := c.App.Writer.Write(text); err != nil {
				return err
			}
			continue
		}
		if err := schedfile.CheckID(s.ID); err != nil {
			return cli.Exit(err.Error()+"; a schedule file's name is its id", exitUsage)
		}
		p := filepath.Join(dir, s.ID+schedfile.Suffix)
		if err := os.WriteFile(p, text, 0o644); err != nil {
			return cli.Exit(err.Error(), exitGeneral)
		}
		fmt.Fprintln(c.App.Writer, "wrote", p)
	}
	return nil
}
