package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// embedSchedules and embedEvery are the embed phase's load: the issue's
// smallest box, 1,000 schedules, each firing every second.
const (
	embedSchedules = 1000
	embedEvery     = 1.0 // seconds
)

// embedded runs one scheduler process with --embed dingaling (no handler
// process, no socket between them) and 1,000 schedules every second,
// spread over the second, and counts the executions committed per second
// and the process's peak RSS over the window.
func embedded(bin string, window time.Duration) ([]row, error) {
	dir, err := os.MkdirTemp("", "szb")
	if err != nil {
		return nil, err
	}
	d := &deployment{dir: dir, zmq: "ipc://" + filepath.Join(dir, "zmq.sock")}
	defer d.close()
	if err := d.startScheduler(bin, "--embed", "dingaling"); err != nil {
		return nil, err
	}
	if err := until(20*time.Second, func(ctx context.Context) bool {
		hs, err := d.c.Handlers(ctx)
		return err == nil && len(hs) == 1 && hs[0].Status == "online"
	}); err != nil {
		return nil, fmt.Errorf("embedded handler not online: %w", err)
	}
	start := time.Now().Add(10 * time.Second)
	if err := addSchedules(d.c, "dingaling", "quick_aling", embedSchedules, embedEvery, start, true); err != nil {
		return nil, err
	}
	time.Sleep(time.Until(start) + 3*time.Second) // warm up: a measurement window, not a wait for a condition
	n0, err := succeeded(d.c)
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	var peak memory
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for end := time.After(window); ; {
		if m := readMemory(d.scheduler.pid()); m.rss > peak.rss {
			peak = m
		}
		select {
		case <-tick.C:
			continue
		case <-end:
		}
		break
	}
	n1, err := succeeded(d.c)
	if err != nil {
		return nil, err
	}
	rate := float64(n1-n0) / time.Since(t0).Seconds()
	return []row{
		{fmt.Sprintf("embedded: durable executions/s, one process (--embed dingaling; %d schedules, %.0f fires/s offered)", embedSchedules, embedSchedules/embedEvery),
			fmt.Sprintf("%.0f", rate), fmt.Sprintf("%.0f", embedSchedules/embedEvery)},
		{"  embedded: scheduler peak RSS under that load", peak.String(), "< 15 MB"},
	}, nil
}
