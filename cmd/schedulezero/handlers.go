package main

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/schedulezero/schedulezero/pkg/api"
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
	}
	return table(c.App.Writer, []string{"ID", "STATUS", "LAST SEEN", "LATENCY", "ERRORS", "IN FLIGHT", "ADDRESS", "METHODS"}, rows)
}
