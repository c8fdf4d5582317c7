package scheduler

import (
	"container/heap"
	"context"

	"github.com/schedulezero/schedulezero/pkg/store"
)

// Upcoming returns how many schedules the engine holds, how many of them
// wait for a fire (the others are paused, finished or broken), and the
// next n to fire, soonest first. It walks the timer heap, under the lock
// for the n entries asked for only, so that a dashboard's overview costs
// the fires it shows, not the schedules there are.
func (s *Scheduler) Upcoming(_ context.Context, n int) (total, waiting int, next []store.Schedule, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	total, waiting = s.entries.len(), len(s.heap)
	if n <= 0 || waiting == 0 {
		return total, waiting, nil, nil
	}
	next = make([]store.Schedule, 0, min(n, waiting))
	// A heap's smallest n in order: the frontier of heap positions whose
	// parents were taken, smallest first.
	front := &frontier{h: s.heap, at: []int{0}}
	for len(next) < n && front.Len() > 0 {
		i := heap.Pop(front).(int)
		next = append(next, s.heap[i].record())
		for _, c := range []int{2*i + 1, 2*i + 2} {
			if c < len(s.heap) {
				heap.Push(front, c)
			}
		}
	}
	return total, waiting, next, nil
}

// frontier is a heap of positions in a fireHeap, ordered as the entries
// there.
type frontier struct {
	h  fireHeap
	at []int
}

func (f *frontier) Len() int           { return len(f.at) }
func (f *frontier) Less(i, j int) bool { return f.h.Less(f.at[i], f.at[j]) }
func (f *frontier) Swap(i, j int)      { f.at[i], f.at[j] = f.at[j], f.at[i] }
func (f *frontier) Push(x any)         { f.at = append(f.at, x.(int)) }
func (f *frontier) Pop() any {
	x := f.at[len(f.at)-1]
	f.at = f.at[:len(f.at)-1]
	return x
}
