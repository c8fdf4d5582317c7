package scheduler

import (
	"container/heap"
)

// fireHeap orders entries by next fire time, earliest first; ties by id so
// the order is deterministic.
type fireHeap []*entry

func (h fireHeap) Len() int { return len(h) }
func (h fireHeap) Less(i, j int) bool {
	as, an := h[i].dueKey()
	bs, bn := h[j].dueKey()
	switch {
	case as != bs:
		return as < bs
	case an != bn:
		return an < bn
	}
	return h[i].rec.ID() < h[j].rec.ID()
}
func (h fireHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = int32(i)
	h[j].index = int32(j)
}
func (h *fireHeap) Push(x any) {
	e := x.(*entry)
	e.index = int32(len(*h))
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
	active := !e.rec.Paused && !e.rec.Done && e.rec.hasNextFire() && !e.broken
	switch {
	case active && e.index >= 0:
		heap.Fix(h, int(e.index))
	case active:
		heap.Push(h, e)
	case e.index >= 0:
		heap.Remove(h, int(e.index))
	}
}
