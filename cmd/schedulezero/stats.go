package main

import (
	"cmp"
	"fmt"
	"maps"
	"slices"

	"github.com/urfave/cli/v2"
)

func statsCommand() *cli.Command {
	return &cli.Command{Name: "stats", Usage: "summarise execution history", Action: stats}
}

func stats(c *cli.Context) error {
	cl, err := newClient(c)
	if err != nil {
		return err
	}
	defer cl.Close()
	st, err := cl.Stats(c.Context)
	if err != nil {
		return apiFailure(err)
	}
	if jsonOutput(c) {
		return printJSON(c.App.Writer, st)
	}
	w := c.App.Writer
	fmt.Fprintf(w, "executions: %d  missed: %d  success rate: %.2f%% (of runs, missed excluded)  avg duration: %.1fms\n", st.Total, st.Missed, st.SuccessRate, st.AvgDurationMS)
	statuses := slices.Sorted(maps.Keys(st.ByStatus))
	for _, s := range statuses {
		fmt.Fprintf(w, "  %-12s %d\n", escapeText(string(s)), st.ByStatus[s])
	}
	fmt.Fprintln(w)
	rows := [][]string{}
	for _, h := range slices.SortedFunc(maps.Keys(st.ByHandler), cmp.Compare) {
		hs := st.ByHandler[h]
		rows = append(rows, []string{h, fmt.Sprint(hs.Total), fmt.Sprint(hs.Succeeded), fmt.Sprint(hs.Failed), fmt.Sprintf("%.1fms", hs.AvgDurationMS)})
	}
	return table(w, []string{"HANDLER", "TOTAL", "SUCCESS", "FAILED", "AVG DURATION"}, rows)
}
