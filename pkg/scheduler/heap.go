package scheduler

import (
	"container/heap"

	"github.com/schedulezero/schedulezero/pkg/store"
	"github.com/schedulezero/schedulezero/pkg/trigger"
)

// entry is one schedule as the engine holds it: the record (authoritative
// in memory; the store has what was last committed) and its compiled
// trigger. index is its place in the heap, or -1 when it is not due ever
// (paused or done).
type entry struct {
	rec   store.Schedule
	trig  trigger.Trigger
	index int
}

// fireHeap orders entries by next fire time, earliest first; ties by id so
// the order is deterministic.
type fireHeap []*entry

func (h fireHeap) Len() int { return len(h) }
func (h fireHeap) Less(i, j int) bool {
	a, b := h[i].rec.NextFire, h[j].rec.NextFire
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
	active := !e.rec.Paused && !e.rec.Done && !e.rec.NextFire.IsZero()
	switch {
	case active && e.index >= 0:
		heap.Fix(h, e.index)
	case active:
		heap.Push(h, e)
	case e.index >= 0:
		heap.Remove(h, e.index)
	}
}
