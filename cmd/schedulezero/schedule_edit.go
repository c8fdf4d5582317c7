package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/schedulezero/schedulezero/pkg/api"
)

func scheduleEditCommand() *cli.Command {
	return &cli.Command{
		Name:      "edit",
		Usage:     "change a schedule in place: only the flags given change; its id, counters and history stay",
		ArgsUsage: "ID",
		UsageText: `schedulezero schedule edit ID [--every 10s | --cron "EXPR" | --at TIME | --calendar "EXPR" | --trigger JSON] [--method M] [--params JSON] [--timezone Z] [--max-attempts N] [--timeout D] [policy flags]`,
		Flags: slices.Concat(triggerFlags(), []cli.Flag{
			&cli.StringFlag{Name: "method", Usage: "handler method"},
			&cli.StringFlag{Name: "params", Usage: "job parameters as a JSON object (replaces them all)"},
			&cli.StringFlag{Name: "timezone", Usage: "IANA time zone of the trigger"},
			&cli.IntFlag{Name: "max-attempts", Usage: "attempts per fire, retries included (0: scheduler default)"},
			&cli.DurationFlag{Name: "timeout", Usage: "job timeout (0: scheduler default)"},
		}, policyFlags()),
		Action: scheduleEdit,
	}
}

func scheduleEdit(c *cli.Context) error {
	id, err := oneArg(c, "schedule ID")
	if err != nil {
		return err
	}
	req, err := editRequest(c, appClock(c).now())
	if err != nil {
		return err
	}
	cl, err := newClient(c)
	if err != nil {
		return err
	}
	defer cl.Close()
	s, err := cl.UpdateSchedule(c.Context, id, req)
	if err != nil {
		return apiFailure(err)
	}
	if jsonOutput(c) {
		return printJSON(c.App.Writer, s)
	}
	_, err = fmt.Fprintf(c.App.Writer, "edited %s: %s.%s %s, next fire %s\n", escapeText(s.ID), escapeText(s.HandlerID), escapeText(s.Method), escapeText(describeTrigger(s.Trigger)), fmtTime(s.NextFire))
	return err
}

// editRequest turns the given flags into a PATCH body; flags not given stay
// out of it, so the schedule keeps those values.
func editRequest(c *cli.Context, now time.Time) (api.UpdateScheduleRequest, error) {
	var req api.UpdateScheduleRequest
	if c.IsSet("method") {
		m := c.String("method")
		req.Method = &m
	}
	if c.IsSet("params") {
		p := c.String("params")
		if !json.Valid([]byte(p)) || !strings.HasPrefix(strings.TrimSpace(p), "{") {
			return req, usagef("schedule edit: --params must be a JSON object, e.g. '{\"increment\":5}'")
		}
		req.Params = json.RawMessage(p)
	}
	if c.IsSet("timezone") {
		tz := c.String("timezone")
		req.Timezone = &tz
	}
	if c.IsSet("max-attempts") {
		n := c.Int("max-attempts")
		req.MaxAttempts = &n
	}
	if c.IsSet("timeout") {
		if c.Duration("timeout") < 0 {
			return req, usagef("schedule edit: --timeout %s: a job timeout must be positive (0: the scheduler's default)", c.Duration("timeout"))
		}
		d := c.Duration("timeout").String()
		req.Timeout = &d
	}
	trig, err := triggerFromFlags(c, now, "schedule edit")
	if err != nil {
		return req, err
	}
	req.Trigger = trig
	req.Policy = policyJSON(c)
	if req.Method == nil && req.Params == nil && req.Timezone == nil && req.MaxAttempts == nil &&
		req.Timeout == nil && req.Trigger == nil && req.Policy == nil {
		return req, usagef("schedule edit: nothing to change: give a trigger flag, --method, --params, --timezone, --max-attempts, --timeout or a policy flag")
	}
	return req, nil
}
