package scheduler

import (
	"runtime"
	"slices"
	"testing"
	"time"
)

// BenchmarkAlarmDuringMark arms each alarm 1 ms ahead, again and again,
// while the collector marks a heap of a few million pointers (a linked
// list, which marks serially: a long mark, as the engine's at 100,000
// schedules), and reports how late the wakes came. Each op is one wake;
// the process is otherwise idle, so the collector's idle workers hold the
// Ps, as in a scheduler between fires.
//
//	go test -run '^$' -bench BenchmarkAlarmDuringMark -benchtime 300x ./pkg/scheduler
func BenchmarkAlarmDuringMark(b *testing.B) {
	type node struct {
		next *node
		_    [2]int64
	}
	var head *node
	for range 3_000_000 {
		head = &node{next: head}
	}
	for name, mk := range alarms() {
		b.Run(name, func(b *testing.B) {
			woke := make(chan time.Time, 1)
			a := mk(func() {
				select {
				case woke <- time.Now():
				default:
				}
			})
			defer a.Close()
			late := make([]time.Duration, 0, b.N)
			gcDone := make(chan struct{})
			close(gcDone)
			for range b.N {
				select {
				case <-gcDone: // one collection at a time, always one marking
					gcDone = make(chan struct{})
					go func(done chan struct{}) { runtime.GC(); close(done) }(gcDone)
				default:
				}
				set := time.Now()
				a.Reset(time.Millisecond)
				at := <-woke
				late = append(late, at.Sub(set)-time.Millisecond)
			}
			<-gcDone
			slices.Sort(late)
			b.ReportMetric(float64(late[len(late)*99/100].Microseconds())/1000, "p99-late-ms")
			b.ReportMetric(float64(late[len(late)-1].Microseconds())/1000, "max-late-ms")
			b.ReportMetric(0, "ns/op")
		})
	}
	runtime.KeepAlive(head)
}
