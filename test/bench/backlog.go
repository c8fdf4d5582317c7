package main

import (
	"fmt"
	"time"
)

// backlogSlots is the concurrency of the backlog phase's handler: far
// fewer than its schedules, so that most executions wait for a slot.
const backlogSlots = 64

// backlog runs the throughput phase's load on a handler of backlogSlots
// slots, so that thousands of executions wait for one (each schedule
// keeps one, overlap skip), and counts what it completes; then it stops
// the handler and measures what the scheduler holds and spends while
// every schedule has an execution waiting for a handler that is gone.
func backlog(bin string, window time.Duration, load shape) ([]row, error) {
	d, err := deploy(bin, "bench", backlogSlots)
	if err != nil {
		return nil, err
	}
	defer d.close()
	m, err := runLoad(d, window, load)
	if err != nil {
		return nil, err
	}
	rate := float64(m.executions) / m.elapsed.Seconds()
	busyCPU := float64(m.scheduler) / float64(m.elapsed)
	busy := m.mem

	for _, h := range d.handlers {
		h.stop()
	}
	time.Sleep(2 * time.Second) // the handler's last replies land: not measured
	t1 := time.Now()
	sched2, _ := d.cpuTimes()
	gone := d.watchMemory(window)
	sched3, _ := d.cpuTimes()
	goneCPU := float64(sched3-sched2) / float64(time.Since(t1))

	offered := float64(load.schedules) / load.every
	return []row{
		{fmt.Sprintf("backlog: durable executions/s on a handler of %d slots (%.0f fires/s offered)", backlogSlots, offered), fmt.Sprintf("%.0f", rate), ""},
		{"  scheduler CPU, share of one core", fmt.Sprintf("%.0f%%", 100*busyCPU), ""},
		{"  scheduler peak RSS", busy.scheduler.String(), ""},
		{fmt.Sprintf("handler stopped, %d schedules waiting: scheduler peak RSS", load.schedules), gone.scheduler.String(), ""},
		{"  scheduler CPU, share of one core", fmt.Sprintf("%.0f%%", 100*goneCPU), ""},
	}, nil
}
