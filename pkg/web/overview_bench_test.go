package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/api"
	"github.com/schedulezero/schedulezero/pkg/schedulerd"
)

// BenchmarkOverview_10000Schedules renders the overview of a real
// scheduler holding 10,000 schedules, as an open page does after events
// (docs/performance.md, the dashboard rows): allocs/op and B/op are the
// garbage a page's refresh leaves the scheduler.
func BenchmarkOverview_10000Schedules(b *testing.B) {
	c, base := daemon(b, "", func(o *schedulerd.Options) { o.Tokens = nil })
	start := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	work := make(chan int)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				trig := fmt.Sprintf(`{"type":"interval","seconds":3600,"start_time":%q}`, start)
				if _, err := c.CreateSchedule(context.Background(), api.CreateScheduleRequest{ID: fmt.Sprintf("bench-%05d", i),
					HandlerID: "dingaling", Method: "quick_aling", Trigger: json.RawMessage(trig)}); err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		}()
	}
	for i := range 10000 {
		work <- i
	}
	close(work)
	wg.Wait()
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}
	hc := &http.Client{}
	defer hc.CloseIdleConnections()
	read := func() {
		resp, err := hc.Get(base + "/")
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("GET /: %d", resp.StatusCode)
		}
	}
	read()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		read()
	}
}
