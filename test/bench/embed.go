package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// cpuTime is the user and system CPU time pid has used, from
// /proc/PID/stat (fields 14 and 15, in clock ticks of 1/100 s).
func cpuTime(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name, field 2, is in parentheses and may hold spaces.
	_, rest, ok := strings.Cut(string(b), ") ")
	if !ok {
		return 0
	}
	f := strings.Fields(rest) // from field 3
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+s) * 10 * time.Millisecond
}

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
	cpu0 := cpuTime(d.scheduler.pid())
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
	el := time.Since(t0)
	rate := float64(n1-n0) / el.Seconds()
	cpu := (cpuTime(d.scheduler.pid()) - cpu0).Seconds() / el.Seconds()
	// The binary's and the store's parts of the RSS are pages of these
	// two files (docs/performance.md, "One process"): their sizes say how
	// much of each is mapped, and the store's grows with the run.
	exe, db := fileMB(filepath.Join(bin, "schedulezero-scheduler")), fileMB(filepath.Join(dir, "sz.db"))
	return []row{
		{fmt.Sprintf("embedded: durable executions/s, one process (--embed dingaling; %d schedules, %.0f fires/s offered)", embedSchedules, embedSchedules/embedEvery),
			fmt.Sprintf("%.0f", rate), fmt.Sprintf("%.0f", embedSchedules/embedEvery)},
		{"  embedded: scheduler peak RSS under that load", peak.String(), "< 15 MB"},
		{"  embedded: scheduler CPU under that load (of one core)", fmt.Sprintf("%.0f%%", 100*cpu), ""},
		{"  embedded: the executable's size (the binary part maps it)", exe, ""},
		{"  embedded: the bbolt file's size at the end (the store part maps it)", db, ""},
	}, nil
}

// fileMB is the size of the file at path in MB, or "n/a".
func fileMB(path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		return "n/a"
	}
	return fmt.Sprintf("%.1f MB", float64(fi.Size())/(1<<20))
}
