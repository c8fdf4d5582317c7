package main

import (
	"github.com/urfave/cli/v2"

	"github.com/schedulezero/schedulezero/pkg/api"
)

// notifyFlags are the notification flags of schedule add and edit; each
// maps to one key of the API's "policy" object (docs/notifications.md).
func notifyFlags() []cli.Flag {
	t := "`TARGET`: an https:// URL (webhook) or handler:NAME[/METHOD]; none: not even the scheduler's default"
	return []cli.Flag{
		&cli.StringFlag{Name: "on-failure", Usage: "notify a final failed attempt to " + t},
		&cli.StringFlag{Name: "on-missed", Usage: "notify a missed occurrence to " + t},
		&cli.StringFlag{Name: "on-recovery", Usage: "notify the first success after a failure to " + t},
		&cli.StringFlag{Name: "on-dead-man", Usage: "notify no success for --dead-man-after to " + t},
		&cli.DurationFlag{Name: "dead-man-after", Usage: "the dead man's threshold: no success for this long (0: the scheduler's default)"},
	}
}

// notifyJSON adds the notification flags that were given to policy p.
func notifyJSON(c *cli.Context, p map[string]any) {
	for flag, key := range map[string]string{"on-failure": "on_failure", "on-missed": "on_missed", "on-recovery": "on_recovery", "on-dead-man": "on_dead_man"} {
		if c.IsSet(flag) {
			p[key] = c.String(flag)
		}
	}
	if c.IsSet("dead-man-after") {
		p["dead_man_after"] = c.Duration("dead-man-after").String()
	}
}

// describeNotify renders the notification keys for schedule show.
func describeNotify(p *api.Policy) [][]string {
	or := func(v string) string {
		if v == "" {
			return "scheduler default"
		}
		return v
	}
	deadMan := or(p.OnDeadMan)
	if p.DeadManAfter != "" && p.DeadManAfter != "0s" {
		deadMan += ", after " + p.DeadManAfter
	}
	return [][]string{
		{"on failure", or(p.OnFailure)}, {"on missed", or(p.OnMissed)}, {"on recovery", or(p.OnRecovery)},
		{"on dead man", deadMan},
	}
}
