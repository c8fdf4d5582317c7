package handler

import (
	"slices"
	"sync"
	"time"
)

// workerIdle is how long a worker waits for another job before it exits.
const workerIdle = 5 * time.Second

// workers runs the admitted tasks, in the order they came, on as few
// goroutines as keep them moving: a batch of a thousand quick jobs is run
// by a handful of workers, not a goroutine each, so each collection scans
// a handful of stacks. A task queued while no worker is starting wakes
// one (an idle one first: its stack is grown already) or starts one; a
// worker that takes a task and leaves others queued does the same. So a
// worker that blocks in its job (a command, a wait for a slot) never
// holds up the queue: the next one is already starting.
type workers struct {
	run  func(*task)
	quit chan struct{} // closed when the runner stops: idle workers exit

	mu       sync.Mutex
	queue    []*task // from head on
	head     int
	idle     []*worker // the most recently idle last
	starting int       // workers woken or started that have not looked at the queue yet
	live     int       // goroutines, for the tests
	peak     int
}

type worker struct{ wake chan struct{} }

func newWorkers(run func(*task)) *workers {
	return &workers{run: run, quit: make(chan struct{})}
}

// submit queues t for a worker.
func (p *workers) submit(t *task) {
	p.mu.Lock()
	p.queue = append(p.queue, t)
	if p.starting == 0 {
		p.wakeLocked()
	}
	p.mu.Unlock()
}

// wakeLocked wakes an idle worker, or starts one.
func (p *workers) wakeLocked() {
	p.starting++
	if n := len(p.idle); n > 0 {
		w := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		w.wake <- struct{}{} // buffered: a worker is idle only with its wake empty
		return
	}
	p.live++
	p.peak = max(p.peak, p.live)
	go p.work(&worker{wake: make(chan struct{}, 1)})
}

// take is the next queued task, or nil. The caller holds p.mu.
func (p *workers) takeLocked() *task {
	if p.head == len(p.queue) {
		return nil
	}
	t := p.queue[p.head]
	p.queue[p.head] = nil
	p.head++
	if p.head == len(p.queue) {
		p.queue, p.head = p.queue[:0], 0
	}
	return t
}

func (p *workers) work(w *worker) {
	var idle *time.Timer
	p.mu.Lock()
	for {
		t := p.takeLocked()
		p.starting-- // this worker has looked
		if t != nil && p.head < len(p.queue) && p.starting == 0 {
			p.wakeLocked() // more are queued: the next worker starts now
		}
		for t != nil {
			p.mu.Unlock()
			p.run(t)
			p.mu.Lock()
			t = p.takeLocked()
			if t != nil && p.head < len(p.queue) && p.starting == 0 {
				p.wakeLocked()
			}
		}
		p.idle = append(p.idle, w)
		p.mu.Unlock()
		if idle == nil {
			idle = time.NewTimer(workerIdle)
		} else {
			idle.Reset(workerIdle)
		}
		select {
		case <-w.wake:
			p.mu.Lock()
			continue
		case <-idle.C:
		case <-p.quit:
		}
		p.mu.Lock()
		if i := slices.Index(p.idle, w); i >= 0 {
			p.idle = slices.Delete(p.idle, i, i+1)
			p.live--
			p.mu.Unlock()
			idle.Stop()
			return
		}
		// Woken just as it gave up: the wake is in w.wake, and the
		// worker counts as starting.
		<-w.wake
	}
}

// stop makes the idle workers exit, and those busy once they are idle.
func (p *workers) stop() { close(p.quit) }
