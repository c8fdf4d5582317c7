package main

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/schedulezero/schedulezero/pkg/client"
	"github.com/schedulezero/schedulezero/pkg/event"
)

func eventsCommand() *cli.Command {
	return &cli.Command{
		Name:  "events",
		Usage: "show the scheduler's recent events (executions, schedules, handlers), oldest first; --follow: then each one as it happens",
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "kind", Usage: `only these kinds: "execution.finished", or a prefix ending in "." ("schedule."); repeat or separate with commas`},
			&cli.StringFlag{Name: "schedule", Usage: "only events of this schedule id"},
			&cli.StringFlag{Name: "handler", Usage: "only events of this handler id"},
			&cli.StringFlag{Name: "after", Usage: "start after this event id (as --json prints it), not with the oldest retained"},
			&cli.BoolFlag{Name: "follow", Aliases: []string{"f"}, Usage: "keep printing events as they happen until interrupted"},
		},
		Action: events,
	}
}

// streamedEvent is one line of events --json: the event and its stream id.
type streamedEvent struct {
	ID string `json:"id"`
	event.Event
}

var errCaughtUp = errors.New("caught up")

var eventColumns = []string{"TIME", "KIND", "SCHEDULE", "HANDLER", "EXECUTION", "STATUS", "REASON"}

// eventWidths are the columns' widths: events print as they come.
var eventWidths = []int{20, 18, 20, 14, 26, 11}

func events(c *cli.Context) error {
	if c.NArg() > 0 {
		return usagef("events: unexpected argument %q", c.Args().First())
	}
	q := client.EventQuery{ScheduleID: c.String("schedule"), HandlerID: c.String("handler"), After: cmp.Or(c.String("after"), "0")}
	for _, k := range c.StringSlice("kind") {
		for _, k := range strings.Split(k, ",") {
			if k = strings.TrimSpace(k); k != "" {
				if !knownKind(k) {
					return usagef("events: --kind %q: use an event kind (%s) or a prefix ending in \".\" (execution., schedule., handler.)", k, strings.Join(kindNames, ", "))
				}
				q.Kinds = append(q.Kinds, k)
			}
		}
	}
	cl, err := newClient(c)
	if err != nil {
		return err
	}
	defer cl.Close()
	w, asJSON, follow := c.App.Writer, jsonOutput(c), c.Bool("follow")
	if !asJSON {
		fmt.Fprintln(w, fixedRow(eventWidths, eventColumns))
	}
	err = cl.Events(c.Context, q, func(se client.StreamEvent) error {
		switch {
		case se.Live:
			if !follow {
				return errCaughtUp
			}
		case se.Lost != nil:
			fmt.Fprintf(c.App.ErrWriter, "schedulezero: events: %s (see: schedulezero history)\n", se.Lost.Reason)
		case asJSON:
			b, _ := json.Marshal(streamedEvent{ID: se.ID, Event: se.Event}) // an Event always marshals
			fmt.Fprintln(w, string(b))
		default:
			printEvent(w, se.Event)
		}
		return nil
	})
	if errors.Is(err, errCaughtUp) || c.Context.Err() != nil {
		return nil
	}
	if err != nil {
		return apiFailure(err)
	}
	return nil
}

var kindNames = []string{
	string(event.ExecutionStarted), string(event.ExecutionFinished), string(event.ExecutionMissed),
	string(event.ScheduleCreated), string(event.ScheduleChanged), string(event.SchedulePaused), string(event.ScheduleResumed), string(event.ScheduleDeleted),
	string(event.HandlerOnline), string(event.HandlerOffline), string(event.HandlerRemoved),
}

func knownKind(k string) bool {
	for _, n := range kindNames {
		if n == k || (strings.HasSuffix(k, ".") && strings.HasPrefix(n, k)) {
			return true
		}
	}
	return false
}

func printEvent(w io.Writer, e event.Event) {
	cells := []string{fmtTime(e.Time), string(e.Kind), cmp.Or(e.ScheduleID, "-"), cmp.Or(e.HandlerID, "-"), cmp.Or(e.ExecutionID, "-"), cmp.Or(e.Status, "-"), e.Reason}
	for i, v := range cells {
		cells[i] = escapeText(v)
	}
	fmt.Fprintln(w, fixedRow(eventWidths, cells))
}
