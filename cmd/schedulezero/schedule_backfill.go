package main

import (
	"fmt"
	"time"

	"github.com/urfave/cli/v2"
)

func scheduleBackfillCommand() *cli.Command {
	return &cli.Command{
		Name:      "backfill",
		Usage:     "run every occurrence of a schedule's trigger in [--from, --to], in order, one after another (at most 1000)",
		ArgsUsage: "ID",
		UsageText: `schedulezero schedule backfill ID --from TIME --to TIME   (TIME: RFC 3339, or "2026-01-02 15:04" in the local zone)`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "from", Usage: "first instant of the range (included)"},
			&cli.StringFlag{Name: "to", Usage: "last instant of the range (included)"},
		},
		Action: scheduleBackfill,
	}
}

// timeLayouts are the accepted forms of --from and --to; the ones without a
// zone are read in the local zone.
var timeLayouts = []string{time.RFC3339Nano, "2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"}

// parseTime reads a --from/--to value.
func parseTime(flag, v string, loc *time.Location) (time.Time, error) {
	for _, l := range timeLayouts {
		if t, err := time.ParseInLocation(l, v, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, usagef("schedule backfill: --%s %q: use RFC 3339 (2026-01-02T15:04:05Z) or \"2026-01-02 15:04\"", flag, v)
}

func scheduleBackfill(c *cli.Context) error {
	id, err := oneArg(c, "schedule ID")
	if err != nil {
		return err
	}
	if c.String("from") == "" || c.String("to") == "" {
		return usagef("schedule backfill: --from and --to are both required")
	}
	loc := appClock(c).loc
	from, err := parseTime("from", c.String("from"), loc)
	if err != nil {
		return err
	}
	to, err := parseTime("to", c.String("to"), loc)
	if err != nil {
		return err
	}
	if to.Before(from) {
		return usagef("schedule backfill: --to %s is before --from %s", c.String("to"), c.String("from"))
	}
	cl, err := newClient(c)
	if err != nil {
		return err
	}
	defer cl.Close()
	res, err := cl.Backfill(c.Context, id, from, to)
	if err != nil {
		return apiFailure(err)
	}
	if jsonOutput(c) {
		return printJSON(c.App.Writer, res)
	}
	w := c.App.Writer
	if len(res.Occurrences) == 0 {
		_, err = fmt.Fprintf(w, "backfill %s: no occurrence between %s and %s\n", escapeText(id), fmtTime(from), fmtTime(to))
		return err
	}
	fmt.Fprintf(w, "backfill %s: queued %d occurrences, run in order (see: schedulezero history --schedule %s)\n", escapeText(id), len(res.Occurrences), shellQuote(id))
	for _, o := range res.Occurrences {
		if _, err := fmt.Fprintln(w, "  "+fmtTime(o)); err != nil {
			return err
		}
	}
	return nil
}
