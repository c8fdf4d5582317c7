package main

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/schedulezero/schedulezero/pkg/api"
	"github.com/schedulezero/schedulezero/pkg/scheduler/schedtype"
)

func handlersList(c *cli.Context) error {
	cl, err := newClient(c)
	if err != nil {
		return err
	}
	defer cl.Close()
	hs, err := cl.Handlers(c.Context)
	if err != nil {
		return apiFailure(err)
	}
	if jsonOutput(c) {
		return printJSON(c.App.Writer, api.HandlerList{Handlers: hs})
	}
	rows := make([][]string, 0, len(hs))
	for _, h := range hs {
		rows = append(rows, []string{h.ID, h.Status, fmtTime(h.LastSeen), fmt.Sprintf("%.1fms", h.LatencyMS),
			fmt.Sprintf("%.1f%%", h.ErrorRate*100), fmt.Sprint(h.InFlight), h.Address, strings.Join(h.Methods, ",")})
		rows = append(rows, instanceRows(h.Instances)...)
	}
	return table(c.App.Writer, []string{"ID", "STATUS", "LAST SEEN", "LATENCY", "ERRORS", "IN FLIGHT", "ADDRESS", "METHODS"}, rows)
}

// instanceRows are the rows of a handler's instances under its own, when
// it has several or its one says its id (our runner's): the instance id
// indented, its status ("unhealthy" while it is routed around), in flight
// of its limit, its address, and its host and labels where the methods
// are.
func instanceRows(ins []schedtype.InstanceStatus) [][]string {
	if len(ins) == 1 && ins[0].ID == "" {
		return nil
	}
	rows := make([][]string, 0, len(ins))
	for _, in := range ins {
		status := in.Status
		if status == "online" && !in.Healthy {
			status = "unhealthy"
		}
		id := in.ID
		if id == "" {
			id = "(no id)"
		}
		where := make([]string, 0, 1+len(in.Labels))
		if in.Host != "" {
			where = append(where, "host "+in.Host)
		}
		for _, k := range slices.Sorted(maps.Keys(in.Labels)) {
			where = append(where, k+"="+in.Labels[k])
		}
		rows = append(rows, []string{"  " + id, status, fmtTime(in.LastSeen), fmt.Sprintf("%.1fms", in.LatencyMS),
			fmt.Sprintf("%.1f%%", in.ErrorRate*100), fmt.Sprintf("%d/%d", in.InFlight, in.Limit), in.Address, strings.Join(where, ",")})
	}
	return rows
}
