package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/schedulezero/schedulezero/pkg/api"
	"github.com/schedulezero/schedulezero/pkg/client"
)

func scheduleAddCommand() *cli.Command {
	return &cli.Command{
		Name:      "add",
		Usage:     "add a schedule (exactly one of --every, --cron, --at, --calendar, --trigger)",
		UsageText: `schedulezero schedule add --handler H --method M [--params JSON] (--every 10s | --cron "EXPR" | --at TIME | --calendar "EXPR" | --trigger JSON) [--id ID] [--timezone Z] [--max-attempts N] [--timeout D] [--replace] [policy flags]`,
		Flags: slices.Concat([]cli.Flag{
			&cli.StringFlag{Name: "handler", Usage: "handler id"},
			&cli.StringFlag{Name: "method", Usage: "handler method"},
			&cli.StringFlag{Name: "params", Usage: "job parameters as a JSON object"},
		}, triggerFlags(), []cli.Flag{
			&cli.StringFlag{Name: "id", Usage: "schedule id (default <handler>_<method>_<epoch>)"},
			&cli.StringFlag{Name: "timezone", Usage: "IANA time zone of the trigger"},
			&cli.IntFlag{Name: "max-attempts", Usage: "attempts per fire, retries included (0: scheduler default)"},
			&cli.DurationFlag{Name: "timeout", Usage: "job timeout (0: scheduler default); the API call timeout is the global --timeout before the subcommand"},
			&cli.BoolFlag{Name: "replace", Usage: "replace an existing schedule with the same id"},
		}, policyFlags()),
		Action: scheduleAdd,
	}
}

func scheduleAdd(c *cli.Context) error {
	req, err := addRequest(c, appClock(c).now())
	if err != nil {
		return err
	}
	cl, err := newClient(c)
	if err != nil {
		return err
	}
	defer cl.Close()
	s, err := cl.CreateSchedule(c.Context, req)
	var ae *client.APIError
	if errors.As(err, &ae) && ae.Status == http.StatusConflict {
		return cli.Exit(fmt.Sprintf("%s (add --replace to replace it, or schedulezero schedule edit %s to change it)", ae.Error(), shellQuote(req.ID)), exitConflict)
	}
	if err != nil {
		return apiFailure(err)
	}
	if jsonOutput(c) {
		return printJSON(c.App.Writer, s)
	}
	_, err = fmt.Fprintf(c.App.Writer, "added %s: %s.%s %s, next fire %s\n", escapeText(s.ID), escapeText(s.HandlerID), escapeText(s.Method), escapeText(describeTrigger(s.Trigger)), fmtTime(s.NextFire))
	return err
}

// addRequest turns the flags into a request; every problem is a usage error.
func addRequest(c *cli.Context, now time.Time) (api.CreateScheduleRequest, error) {
	req := api.CreateScheduleRequest{
		ID: c.String("id"), HandlerID: c.String("handler"), Method: c.String("method"),
		Timezone: c.String("timezone"), MaxAttempts: c.Int("max-attempts"), Replace: c.Bool("replace"),
	}
	if req.HandlerID == "" || req.Method == "" {
		return req, usagef("schedule add: --handler and --method are required")
	}
	if p := c.String("params"); p != "" {
		if !json.Valid([]byte(p)) || !strings.HasPrefix(strings.TrimSpace(p), "{") {
			return req, usagef("schedule add: --params must be a JSON object, e.g. '{\"increment\":5}'")
		}
		req.Params = json.RawMessage(p)
	}
	switch d := c.Duration("timeout"); {
	case d < 0:
		return req, usagef("schedule add: --timeout %s: a job timeout must be positive (0 or no flag: the scheduler's default)", d)
	case d > 0:
		req.Timeout = d.String()
	}
	trig, err := triggerFromFlags(c, now, "schedule add")
	if err != nil {
		return req, err
	}
	if trig == nil {
		return req, usagef("schedule add: a trigger is required: give one of --every, --cron, --at, --calendar, --trigger")
	}
	req.Trigger = trig
	req.Policy, err = policyFromFlags(c)
	return req, err
}

// triggerFlags are the trigger flags of schedule add and edit; at most one
// may be given.
func triggerFlags() []cli.Flag {
	return []cli.Flag{
		&cli.DurationFlag{Name: "every", Usage: "interval trigger, e.g. 10s"},
		&cli.StringFlag{Name: "cron", Usage: `cron trigger, e.g. "*/5 * * * *" (6 fields: with seconds)`},
		&cli.StringFlag{Name: "at", Usage: "date trigger: RFC 3339 time, or +DURATION from now (e.g. +30s)"},
		&cli.StringFlag{Name: "calendar", Usage: `systemd calendar trigger, e.g. "Mon..Fri 09:00"`},
		&cli.StringFlag{Name: "trigger", Usage: `trigger as a JSON object, e.g. {"type":"interval","minutes":5}`},
		&cli.BoolFlag{Name: "allow-past", Usage: "accept an --at time in the past (the schedule then fires at once)"},
	}
}

// triggerFromFlags builds the trigger object from the trigger flag that was
// given; nil when none was. cmd names the command in messages.
func triggerFromFlags(c *cli.Context, now time.Time, cmd string) (json.RawMessage, error) {
	var set []string
	for _, name := range []string{"every", "cron", "at", "calendar", "trigger"} {
		if c.IsSet(name) {
			set = append(set, "--"+name)
		}
	}
	switch len(set) {
	case 0:
		return nil, nil
	case 1:
	default:
		return nil, usagef("%s: give only one of --every, --cron, --at, --calendar, --trigger (got %s)", cmd, strings.Join(set, " "))
	}
	var t map[string]any
	switch set[0] {
	case "--every":
		d := c.Duration("every")
		if d <= 0 {
			return nil, usagef("%s: --every must be positive", cmd)
		}
		t = map[string]any{"type": "interval", "seconds": d.Seconds()}
	case "--cron":
		t = map[string]any{"type": "cron", "expr": c.String("cron")}
	case "--calendar":
		t = map[string]any{"type": "calendar", "expr": c.String("calendar")}
	case "--at":
		at := c.String("at")
		if rel, ok := strings.CutPrefix(at, "+"); ok {
			d, err := time.ParseDuration(rel)
			if err != nil {
				return nil, usagef("%s: --at %q: %v", cmd, at, err)
			}
			at = now.Add(d).UTC().Format(time.RFC3339Nano)
		} else if t, err := time.Parse(time.RFC3339Nano, at); err == nil && t.Before(now) && !c.Bool("allow-past") {
			return nil, usagef("%s: --at %s is in the past (now %s): give a future time or +DURATION, or add --allow-past to fire it at once", cmd, at, fmtTime(now))
		}
		t = map[string]any{"type": "date", "run_date": at}
	case "--trigger":
		raw := strings.TrimSpace(c.String("trigger"))
		if !json.Valid([]byte(raw)) || !strings.HasPrefix(raw, "{") {
			return nil, usagef(`%s: --trigger must be a JSON object, e.g. '{"type":"interval","seconds":10}'`, cmd)
		}
		return json.RawMessage(raw), nil
	}
	b, err := json.Marshal(t)
	return b, err
}
