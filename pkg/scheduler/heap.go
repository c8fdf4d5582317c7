package scheduler

import (
	"container/heap"
	"time"

	"github.com/schedulezero/schedulezero/pkg/store"
	"github.com/schedulezero/schedulezero/pkg/trigger"
)

// entry is one schedule as the engine holds it: the record (authoritative
// in memory; the store has what was last committed) and its compiled
// trigger. index is its place in the heap, or -1 when it is not due ever
// (paused or done).
type entry struct {
	rec    store.Schedule
	trig   trigger.Trigger
	index  int
	offset time.Duration // the stable random offset (Policy.RandomOffset)

	// running holds this schedule's executions in flight (overlap policy),
	// nil when there are none: most schedules are idle most of the time,
	// and an emptied map keeps its storage (docs/performance.md, Memory).
	// backlog holds occurrences waiting to run one after another (overlap
	// "queue", misfire "all", backfill).
	running map[string]*execution
	backlog []backlogItem

	// skips holds the occurrences skipped (overlap policy skip) and not
	// yet written, nil when there are none (Scheduler.skipLocked).
	skips *skips
	// dirty says rec changed (skipped fires) and was not written since;
	// flushing says the entry is in Scheduler.dirty, for flushSkipsLocked.
	dirty    bool
	flushing bool
}

// skips counts n occurrences skipped from from to to, the last at at;
// they are written as one record. Apart from entry, which holds it only
// between a skip and its write, so that idle schedules do not carry it.
type skips struct {
	n            int64
	from, to, at time.Time
}

// backlogItem is an occurrence waiting for the schedule's previous run.
type backlogItem struct {
	occ    time.Time
	reason string // why it waits: "queued", "catch-up", "backfill"
}

// addRunning puts ex in e's running set.
func (e *entry) addRunning(ex *execution) {
	if e.running == nil {
		e.running = make(map[string]*execution, 1)
	}
	e.running[ex.rec.ID] = ex
}

// removeRunning takes ex out of e's running set, and drops the set when it
// is empty.
func (e *entry) removeRunning(ex *execution) {
	delete(e.running, ex.rec.ID)
	if len(e.running) == 0 {
		e.running = nil
	}
}

// due is when the engine fires the entry's next occurrence.
func (e *entry) due() time.Time { return e.rec.NextFire.Add(e.offset) }

// fireHeap orders entries by next fire time, earliest first; ties by id so
// the order is deterministic.
type fireHeap []*entry

func (h fireHeap) Len() int { return len(h) }
func (h fireHeap) Less(i, j int) bool {
	a, b := h[i].due(), h[j].due()
	if a.Equal(b) {
		return h[i].rec.ID < h[j].rec.ID
	}
	return a.Before(b)
}
func (h fireHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}
func (h *fireHeap) Push(x any) {
	e := x.(*entry)
	e.index = len(*h)
	*h = append(*h, e)
}
func (h *fireHeap) Pop() any {
	old := *h
	n := len(old)
	e := old[n-1]
	old[n-1] = nil
	e.index = -1
	*h = old[:n-1]
	return e
}

// place puts e where its NextFire says: in the heap when it has one and is
// active, out of it otherwise.
func (h *fireHeap) place(e *entry) {
	active := !e.rec.Paused && !e.rec.Done && !e.rec.NextFire.IsZero() && e.trig != nil
	switch {
	case active && e.index >= 0:
		heap.Fix(h, e.index)
	case active:
		heap.Push(h, e)
	case e.index >= 0:
		heap.Remove(h, e.index)
	}
}
