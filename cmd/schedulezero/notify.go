package main

import (
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/schedulezero/schedulezero/pkg/store"
)

func notifyCommand() *cli.Command {
	return &cli.Command{
		Name:  "notify",
		Usage: "test and list notifications (failure, missed, recovery, dead man; docs/notifications.md)",
		Subcommands: []*cli.Command{
			{
				Name:      "test",
				Usage:     "send a test notification and say whether the target took it",
				ArgsUsage: "[TARGET]",
				Description: "TARGET is an https:// URL (webhook) or handler:NAME[/METHOD]; without one, the scheduler's\n" +
					"--notify-on-failure. The scheduler delivers it once; exit 1 when the target refused it.",
				Action: notifyTest,
			},
			{
				Name:  "list",
				Usage: "list the most recent recorded notifications, oldest first",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "status", Usage: "only this status: pending, sent, failed"},
					&cli.IntFlag{Name: "n", Value: 100, Usage: "number of most recent notifications (at most 1000)"},
				},
				Action: notifyList,
			},
		},
	}
}

func notifyTest(c *cli.Context) error {
	if c.NArg() > 1 {
		return usagef("notify test takes at most one TARGET, got %d arguments", c.NArg())
	}
	cl, err := newClient(c)
	if err != nil {
		return err
	}
	defer cl.Close()
	rec, err := cl.NotifyTest(c.Context, c.Args().First())
	if err != nil {
		return apiFailure(err)
	}
	if jsonOutput(c) {
		if err := printJSON(c.App.Writer, rec); err != nil {
			return err
		}
	} else if rec.Status == store.NotificationSent {
		fmt.Fprintf(c.App.Writer, "sent to %s (notification %s)\n", escapeText(rec.Target), escapeText(rec.ID))
	}
	if rec.Status != store.NotificationSent {
		return cli.Exit(fmt.Sprintf("notify test: %s did not take it: %s", escapeText(rec.Target), escapeText(rec.Error)), exitGeneral)
	}
	return nil
}

func notifyList(c *cli.Context) error {
	st := store.NotificationStatus(c.String("status"))
	switch st {
	case "", store.NotificationPending, store.NotificationSent, store.NotificationFailed:
	default:
		return usagef("--status %q: use pending, sent or failed", st)
	}
	if n := c.Int("n"); n < 1 || n > 1000 {
		return usagef("-n %d: give 1 to 1000", n)
	}
	cl, err := newClient(c)
	if err != nil {
		return err
	}
	defer cl.Close()
	list, err := cl.Notifications(c.Context, st, c.Int("n"))
	if err != nil {
		return apiFailure(err)
	}
	if jsonOutput(c) {
		return printJSON(c.App.Writer, list)
	}
	rows := make([][]string, 0, len(list))
	for _, n := range list {
		rows = append(rows, []string{n.CreatedAt.Local().Format(time.DateTime), n.Event, n.ScheduleID, string(n.Status),
			fmt.Sprint(n.Attempts), n.Target, n.Error})
	}
	return table(c.App.Writer, []string{"CREATED", "EVENT", "SCHEDULE", "STATUS", "ATTEMPTS", "TARGET", "ERROR"}, rows)
}
