package scheduler

import (
	"container/heap"
	"context"

	"github.com/schedulezero/schedulezero/pkg/scheduler/schedtype"
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
	s.eachUpcomingLocked(n, func(e *entry) { next = append(next, e.record()) })
	return total, waiting, next, nil
}

// UpcomingFires is Upcoming with each fire's schedule id and time only,
// not its record: the dashboard's overview draws hundreds of fires on
// every refresh of every open page, and a record each was most of the
// garbage a refresh left (docs/performance.md, the dashboard rows).
func (s *Scheduler) UpcomingFires(_ context.Context, n int) (total, waiting int, next []schedtype.Fire, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	total, waiting = s.entries.len(), len(s.heap)
	if n <= 0 || waiting == 0 {
		return total, waiting, nil, nil
	}
	next = make([]schedtype.Fire, 0, min(n, waiting))
	s.eachUpcomingLocked(n, func(e *entry) {
		r := e.record()
		next = append(next, schedtype.Fire{ScheduleID: r.ID, At: r.NextFire})
	})
	return total, waiting, next, nil
}

// eachUpcomingLocked calls fn with the heap's n smallest entries in
// order: the frontier of heap positions whose parents were taken,
// smallest first.
func (s *Scheduler) eachUpcomingLocked(n int, fn func(*entry)) {
	front := &frontier{h: s.heap, at: []int{0}}
	for taken := 0; taken < n && front.Len() > 0; taken++ {
		i := heap.Pop(front).(int)
		fn(s.heap[i])
		for _, c := range []int{2*i + 1, 2*i + 2} {
			if c < len(s.heap) {
				heap.Push(front, c)
			}
		}
	}
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
