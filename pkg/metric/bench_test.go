package metric

import (
	"io"
	"strconv"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/event"
)

// What the engine pays per execution for metrics: the events of one
// attempt (started, finished) and its group commit.
func BenchmarkScheduler_ObserveAttempt(b *testing.B) {
	m := NewScheduler()
	ids := make([]string, 1024)
	for i := range ids {
		ids[i] = strconv.Itoa(i)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		id := ids[i%len(ids)]
		m.Observe(event.Event{Kind: event.ExecutionStarted, HandlerID: "dingaling", ExecutionID: id, Attempt: 1})
		m.Observe(event.Event{Kind: event.ExecutionFinished, HandlerID: "dingaling", ExecutionID: id, Attempt: 1, Status: "success", DurationMS: 2, Final: true})
		m.Commit(2, time.Millisecond)
	}
}

// A scrape of a scheduler with 50 handlers' series.
func BenchmarkScheduler_Write(b *testing.B) {
	m := NewScheduler()
	for h := range 50 {
		id := "h" + strconv.Itoa(h)
		m.Observe(event.Event{Kind: event.ExecutionFinished, HandlerID: id, ExecutionID: "x", Attempt: 1, Status: "success", DurationMS: 2, Final: true})
		m.Observe(event.Event{Kind: event.ExecutionMissed, HandlerID: id, ExecutionID: "y", Reason: "the scheduler was not running"})
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := m.Write(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}
