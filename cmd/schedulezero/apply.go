package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/schedulezero/schedulezero/pkg/api"
	"github.com/schedulezero/schedulezero/pkg/client"
	"github.com/schedulezero/schedulezero/pkg/schedfile"
	"github.com/schedulezero/schedulezero/pkg/scheduler/schedtype"
	"github.com/schedulezero/schedulezero/pkg/store"
)

// Exit codes of apply: 0 when nothing changes, exitChanged when schedules
// were (or, with --dry-run, would be) created, changed or deleted, and
// exitUsage when a file is invalid or the scheduler refused one.
const exitChanged = 6

func applyCommand() *cli.Command {
	return &cli.Command{
		Name:      "apply",
		Usage:     "apply schedule files: print the plan (create, change with the fields, delete), then carry it out through the API",
		ArgsUsage: "[DIR...]",
		Description: "DIR... is the search path, highest precedence first (default: " + fmt.Sprint(schedfile.DefaultDirs) + ").\n" +
			"Exit status: 0 nothing to change, 6 schedules changed (or would, with --dry-run), 2 a file is invalid.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "dry-run", Usage: "print the plan and change nothing"},
			&cli.BoolFlag{Name: "check", Usage: "only check the files (no scheduler needed): for the CI of a configuration repository"},
		},
		Action: apply,
	}
}

func apply(c *cli.Context) error {
	dirs := c.Args().Slice()
	if len(dirs) == 0 {
		// Applying directories that are not there would delete the
		// scheduler's file schedules (a remote --api, a typo): the
		// default path must exist here.
		dirs = schedfile.DefaultDirs
		if !anyDir(dirs) {
			return usagef("apply: none of %s exists here; name the directory to apply", strings.Join(dirs, ", "))
		}
	}
	set, err := schedfile.Load(dirs)
	if err != nil {
		return cli.Exit(err.Error(), exitGeneral)
	}
	w := c.App.Writer
	if c.Bool("check") {
		for _, e := range set.Errors() {
			fmt.Fprintln(w, "invalid", e)
		}
		fmt.Fprintf(w, "%d schedule files, %d invalid\n", len(set.Definitions)+len(set.Invalid), len(set.Invalid))
		if len(set.Invalid) > 0 {
			return cli.Exit("", exitUsage)
		}
		return nil
	}
	cl, err := newClient(c)
	if err != nil {
		return err
	}
	defer cl.Close()
	current, loc, err := currentSchedules(c.Context, cl)
	if err != nil {
		return err
	}
	plan := schedfile.MakePlan(set, current, loc)
	fmt.Fprint(w, plan.String())
	if c.Bool("dry-run") {
		return applyExit(len(plan.Steps) > 0, len(plan.Invalid) > 0)
	}
	sources := make(map[string]string, len(current))
	for _, s := range current {
		sources[s.ID] = s.Source
	}
	res := schedfile.Apply(c.Context, &apiTarget{cl: cl, sources: sources}, plan)
	for _, e := range res.Failed {
		fmt.Fprintln(w, "failed ", e)
	}
	fmt.Fprintln(w, schedfile.Summary(plan, res))
	return applyExit(res.Created+res.Changed+res.Deleted > 0, len(plan.Invalid)+len(res.Failed) > 0)
}

func applyExit(changed, invalid bool) error {
	switch {
	case invalid:
		return cli.Exit("", exitUsage)
	case changed:
		return cli.Exit("", exitChanged)
	}
	return nil
}

// currentSchedules lists the scheduler's schedules and its zone.
func currentSchedules(ctx context.Context, cl *client.Client) ([]store.Schedule, *time.Location, error) {
	views, err := cl.Schedules(ctx)
	if err != nil {
		return nil, nil, apiFailure(err)
	}
	out := make([]store.Schedule, 0, len(views))
	for _, v := range views {
		s, err := schedfile.FromAPI(v)
		if err != nil {
			return nil, nil, cli.Exit(err.Error(), exitGeneral)
		}
		out = append(out, s)
	}
	return out, schedulerZone(ctx, cl), nil
}

// schedulerZone is the scheduler's zone (GET /api/config), or the local
// one when it does not say a loadable name.
func schedulerZone(ctx context.Context, cl *client.Client) *time.Location {
	cfg, err := cl.Config(ctx)
	if err == nil {
		if name, ok := cfg["timezone"].(string); ok && name != "" && name != "Local" {
			if loc, err := time.LoadLocation(name); err == nil {
				return loc
			}
		}
	}
	return time.Local
}

// apiTarget applies a plan through the REST API, each request naming the
// file that manages the schedule, so that the API lets it through.
type apiTarget struct {
	cl      *client.Client
	sources map[string]string // schedule id -> its source before the apply
}

func (a *apiTarget) AddSchedule(ctx context.Context, r schedtype.ScheduleRequest) (store.Schedule, error) {
	req := api.CreateScheduleRequest{
		ID: r.ID, HandlerID: r.HandlerID, Method: r.Method, Params: r.Params, Trigger: r.Trigger, Timezone: r.Timezone,
		MaxAttempts: r.MaxAttempts, Policy: api.PolicyFromStore(r.Policy), Source: r.Source,
	}
	if r.Timeout > 0 {
		req.Timeout = r.Timeout.String()
	}
	_, err := a.cl.CreateSchedule(ctx, req)
	return store.Schedule{}, err
}

func (a *apiTarget) UpdateSchedule(ctx context.Context, id string, u schedtype.ScheduleUpdate) (store.Schedule, error) {
	req := api.UpdateScheduleRequest{Method: u.Method, Params: u.Params, Trigger: u.Trigger, Timezone: u.Timezone,
		MaxAttempts: u.MaxAttempts, Source: u.Source}
	if u.Timeout != nil {
		s := u.Timeout.String()
		req.Timeout = &s
	}
	if u.Policy != nil {
		// Every key, so that those the file left out go back to their
		// defaults: PATCH merges the keys it is sent.
		p := api.PolicyFromStore(*u.Policy)
		if p == nil {
			p = &api.Policy{}
		}
		raw, err := jsonAllKeys(p)
		if err != nil {
			return store.Schedule{}, err
		}
		req.Policy = raw
	}
	_, err := a.cl.UpdateSchedule(ctx, id, req)
	return store.Schedule{}, err
}

func (a *apiTarget) DeleteSchedule(ctx context.Context, id string) error {
	return a.cl.DeleteScheduleFrom(ctx, id, a.sources[id])
}

func (a *apiTarget) PauseSchedule(ctx context.Context, id string) (store.Schedule, error) {
	_, err := a.cl.PauseSchedule(ctx, id)
	return store.Schedule{}, err
}

func (a *apiTarget) ResumeSchedule(ctx context.Context, id string) (store.Schedule, error) {
	_, err := a.cl.ResumeSchedule(ctx, id)
	return store.Schedule{}, err
}

// jsonAllKeys renders a struct's fields as a JSON object with every key,
// zero values too (its tags' omitempty left out).
func jsonAllKeys(v any) (json.RawMessage, error) {
	rv := reflect.Indirect(reflect.ValueOf(v))
	m := make(map[string]any, rv.NumField())
	for i := range rv.NumField() {
		name, _, _ := strings.Cut(rv.Type().Field(i).Tag.Get("json"), ",")
		val := rv.Field(i).Interface()
		if sl, ok := val.([]string); ok && sl == nil {
			val = []string{}
		}
		m[name] = val
	}
	return json.Marshal(m)
}

func anyDir(dirs []string) bool {
	for _, d := range dirs {
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			return true
		}
	}
	return false
}
