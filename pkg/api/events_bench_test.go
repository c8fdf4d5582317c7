package api_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/api"
	"github.com/schedulezero/schedulezero/pkg/event"
)

// BenchmarkEvents_FanOut is the cost of one event delivered to every one
// of n streams over HTTP (server and clients in this process): publish,
// encode, write, read.
func BenchmarkEvents_FanOut(b *testing.B) {
	for _, n := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("streams=%d", n), func(b *testing.B) {
			hub := event.NewHub(0)
			tb := setup(b, api.Options{Events: hub})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			got := make([]atomic.Int64, n)
			var wg sync.WaitGroup
			for i := range n {
				req, _ := http.NewRequestWithContext(ctx, "GET", tb.srv.URL+"/api/v1/events", nil)
				resp, err := tb.srv.Client().Do(req) //nolint:bodyclose // the reading goroutine below closes it
				if err != nil {
					b.Fatal(err)
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer resp.Body.Close()
					sc := bufio.NewScanner(resp.Body)
					for sc.Scan() {
						if bytes.HasPrefix(sc.Bytes(), []byte("id: ")) {
							got[i].Add(1)
						}
					}
				}()
			}
			for hub.Subscribers() < n {
				time.Sleep(time.Millisecond) // polling a condition
			}
			b.ResetTimer()
			// In rounds smaller than a subscription's buffer, so that
			// what is measured is delivery, not resumption.
			for sent := 0; sent < b.N; {
				round := min(128, b.N-sent)
				for range round {
					hub.Publish(event.Event{Kind: event.ExecutionFinished, ScheduleID: "bench", HandlerID: "dingaling", Status: "success", DurationMS: 1.5})
				}
				sent += round
				for i := range got {
					for got[i].Load() < int64(sent) {
						time.Sleep(50 * time.Microsecond) // polling a condition
					}
				}
			}
			b.StopTimer()
			cancel()
			tb.srv.CloseClientConnections()
			wg.Wait()
		})
	}
}
