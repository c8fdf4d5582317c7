package main

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/schedulezero/schedulezero/pkg/api"
)

// policyFlags are the scheduling-policy flags of schedule add and edit; each
// maps to one key of the API's "policy" object (see docs/scheduling.md).
func policyFlags() []cli.Flag {
	return append([]cli.Flag{
		&cli.StringFlag{Name: "misfire", Usage: "missed occurrences: skip | once (default: run the latest once) | all (each, up to --misfire-limit)"},
		&cli.IntFlag{Name: "misfire-limit", Usage: "with --misfire all: most occurrences to catch up (0: default 100)"},
		&cli.DurationFlag{Name: "grace", Usage: "a fire later than this is a misfire (0: default 1s)"},
		&cli.StringFlag{Name: "overlap", Usage: "a fire while the previous run still runs: skip (default) | allow | queue | replace"},
		&cli.IntFlag{Name: "queue-limit", Usage: "with --overlap queue: most waiting runs (0: default 10)"},
		&cli.DurationFlag{Name: "random-delay", Usage: "delay each fire by a fresh random amount up to this (like RandomizedDelaySec=)"},
		&cli.DurationFlag{Name: "random-offset", Usage: "shift every occurrence by a stable per-schedule amount up to this (like RandomizedOffsetSec=)"},
		&cli.Int64Flag{Name: "max-runs", Usage: "end the schedule after this many fires (0: no limit)"},
		&cli.DurationFlag{Name: "backoff", Usage: "delay before the first retry, doubled per attempt with jitter (0: scheduler default)"},
		&cli.DurationFlag{Name: "backoff-max", Usage: "cap of the retry delay (0: scheduler default)"},
		&cli.StringSliceFlag{Name: "retry-on", Usage: "outcomes to retry: error, timeout, unavailable (repeat or comma-separate; default all)"},
		&cli.StringSliceFlag{Name: "on", Usage: "run only on handler instances with the label `KEY=VALUE` (repeat: all must match; \"\" with schedule edit: any instance)"},
	}, notifyFlags()...)
}

// policyJSON returns the "policy" object holding only the policy flags that
// were given, or nil when none was. A flag given as 0 or "" is sent, so that
// schedule edit can put a key back to its default.
func policyJSON(c *cli.Context) json.RawMessage {
	p := map[string]any{}
	for flag, key := range map[string]string{"misfire": "misfire", "overlap": "overlap"} {
		if c.IsSet(flag) {
			p[key] = c.String(flag)
		}
	}
	for flag, key := range map[string]string{"misfire-limit": "misfire_limit", "queue-limit": "queue_limit"} {
		if c.IsSet(flag) {
			p[key] = c.Int(flag)
		}
	}
	if c.IsSet("max-runs") {
		p["max_runs"] = c.Int64("max-runs")
	}
	for flag, key := range map[string]string{"grace": "grace_time", "random-delay": "random_delay", "random-offset": "random_offset", "backoff": "backoff", "backoff-max": "backoff_max"} {
		if c.IsSet(flag) {
			p[key] = c.Duration(flag).String()
		}
	}
	if c.IsSet("retry-on") {
		var on []string
		for _, v := range c.StringSlice("retry-on") {
			for _, s := range strings.Split(v, ",") {
				if s = strings.TrimSpace(s); s != "" {
					on = append(on, s)
				}
			}
		}
		p["retry_on"] = on
	}
	if c.IsSet("on") {
		on := []string{}
		for _, v := range c.StringSlice("on") {
			for _, s := range strings.Split(v, ",") {
				if s = strings.TrimSpace(s); s != "" {
					on = append(on, s)
				}
			}
		}
		p["on"] = on
	}
	notifyJSON(c, p)
	if len(p) == 0 {
		return nil
	}
	b, _ := json.Marshal(p) // strings, numbers and string lists always marshal
	return b
}

// policyFromFlags is the policy of schedule add: nil when no flag was given.
func policyFromFlags(c *cli.Context) (*api.Policy, error) {
	raw := policyJSON(c)
	if raw == nil {
		return nil, nil
	}
	var p api.Policy
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, usagef("policy flags: %v", err)
	}
	return &p, nil
}

// describePolicy renders a policy for schedule show, defaults spelled out.
func describePolicy(p *api.Policy) [][]string {
	if p == nil {
		p = &api.Policy{}
	}
	or := func(v, def string) string {
		if v == "" || v == "0" {
			return def
		}
		return v
	}
	itoa := func(n int64) string {
		if n == 0 {
			return ""
		}
		return strconv.FormatInt(n, 10)
	}
	misfire := or(p.Misfire, "once (default)")
	if p.Misfire == "all" {
		misfire += ", up to " + or(itoa(int64(p.MisfireLimit)), "100") + " runs"
	}
	overlap := or(p.Overlap, "skip (default)")
	if p.Overlap == "queue" {
		overlap += ", up to " + or(itoa(int64(p.QueueLimit)), "10") + " waiting"
	}
	retryOn := "error, timeout, unavailable (default)"
	if len(p.RetryOn) > 0 {
		retryOn = strings.Join(p.RetryOn, ", ")
	}
	return append([][]string{
		{"misfire", misfire}, {"grace time", or(p.GraceTime, "1s (default)")}, {"overlap", overlap},
		{"random delay", or(p.RandomDelay, "none")}, {"random offset", or(p.RandomOffset, "none")},
		{"max runs", or(itoa(p.MaxRuns), "no limit")},
		{"backoff", or(p.Backoff, "scheduler default")}, {"backoff max", or(p.BackoffMax, "scheduler default")},
		{"retry on", retryOn},
	}, append(describeOn(p), describeNotify(p)...)...)
}

// describeOn is the row of a constraint on handler instances, none for a
// schedule that runs on any (most do).
func describeOn(p *api.Policy) [][]string {
	if len(p.On) == 0 {
		return nil
	}
	return [][]string{{"on", strings.Join(p.On, ", ")}}
}
