package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/api"
	"github.com/schedulezero/schedulezero/pkg/handler"
	"github.com/schedulezero/schedulezero/pkg/scheduler"
	"github.com/schedulezero/schedulezero/pkg/store"
	"github.com/schedulezero/schedulezero/pkg/store/storetest"
	"github.com/schedulezero/schedulezero/pkg/wire/wiretest"
)

// truthBundle is the real engine behind the real API, with one Go handler
// "h" whose method "hold" runs until the test releases it.
type truthBundle struct {
	eng     *scheduler.Scheduler
	srv     *httptest.Server
	release chan struct{}
}

func newTruth(t *testing.T) *truthBundle {
	t.Helper()
	ctx := context.Background()
	eng, err := scheduler.New(ctx, scheduler.Options{Store: storetest.New(t), Logger: slog.New(slog.DiscardHandler), Location: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	zmq := wiretest.Serve(t, eng.Registry())
	if err := eng.Start(ctx); err != nil {
		t.Fatal(err)
	}
	tb := &truthBundle{eng: eng, srv: httptest.NewServer(api.New(api.Options{Backend: eng})), release: make(chan struct{})}
	t.Cleanup(func() {
		tb.srv.Close()
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		_ = eng.Stop(sctx)
	})
	mux := handler.NewMux()
	mux.HandleFunc("hold", func(ctx context.Context, _ *handler.Job) (any, error) {
		select {
		case <-tb.release:
			return nil, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	})
	hctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- handler.Serve(hctx, mux, handler.Options{Name: "h", Endpoint: wiretest.IPC(t, "h"), Scheduler: zmq.Addr(),
			Concurrency: 4, Logger: slog.New(slog.DiscardHandler)})
	}()
	t.Cleanup(func() {
		close(tb.release)
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("handler: %v", err)
		}
	})
	tb.await(t, "handler h online", func() bool {
		var l api.HandlerList
		tb.do(t, "GET", "/api/v1/handlers", "", &l)
		return len(l.Handlers) == 1 && l.Handlers[0].Status == "online"
	})
	return tb
}

func (tb *truthBundle) do(t *testing.T, method, path, body string, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, tb.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := tb.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 && resp.StatusCode != http.StatusNoContent {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
	return resp.StatusCode
}

// await polls cond until it holds or 10 s pass.
func (tb *truthBundle) await(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond) // polling a condition with a deadline
	}
}

// addHeld adds a schedule of "hold" that fires at once and then hourly,
// and waits until its first run is running.
func (tb *truthBundle) addHeld(t *testing.T, id, policy string) {
	t.Helper()
	body := `{"job_id":"` + id + `","handler_id":"h","job_method":"hold","trigger":{"type":"interval","hours":1}` + policy + `}`
	if code := tb.do(t, "POST", "/api/v1/schedules", body, nil); code != http.StatusCreated {
		t.Fatalf("add %s: %d", id, code)
	}
	tb.await(t, id+" running", func() bool {
		var l api.ExecutionList
		tb.do(t, "GET", "/api/v1/schedules/"+id+"/executions", "", &l)
		return l.Count == 1 && l.Executions[0].Status == store.StatusRunning
	})
}

// schedule run says at once what the engine decided: skipped, with the
// missed record already there; queued behind the running one; started.
// Before, a skip answered "execution_id":"" (the CLI printed "queued ...
// (overlap policy queue)") and its record appeared about 5 s later.
func TestAPI_RunScheduleSaysWhatHappened(t *testing.T) {
	tb := newTruth(t)
	tb.addHeld(t, "skipper", "")
	tb.addHeld(t, "queuer", `,"policy":{"overlap":"queue"}`)

	var got api.Triggered
	if code := tb.do(t, "POST", "/api/v1/schedules/skipper/run", "", &got); code != http.StatusAccepted {
		t.Fatalf("run: %d", code)
	}
	if got.Outcome != api.OutcomeSkipped || got.ExecutionID == "" || got.Status != store.StatusMissed ||
		!strings.Contains(got.Reason, "was still running") || !strings.Contains(got.Reason, "overlap policy skip") {
		t.Fatalf("skipped run answered %+v", got)
	}
	var rec api.ExecutionAttempts
	if code := tb.do(t, "GET", "/api/v1/executions/"+got.ExecutionID, "", &rec); code != http.StatusOK ||
		len(rec.Attempts) != 1 || rec.Attempts[0].Status != store.StatusMissed || rec.Attempts[0].Error != got.Reason {
		t.Fatalf("the missed record %s is not there at once: %d %+v", got.ExecutionID, code, rec)
	}

	got = api.Triggered{}
	tb.do(t, "POST", "/api/v1/schedules/queuer/run", "", &got)
	if got.Outcome != api.OutcomeQueued || got.ExecutionID != "" || !strings.Contains(got.Reason, "overlap policy queue") {
		t.Fatalf("queued run answered %+v", got)
	}

	got = api.Triggered{}
	tb.do(t, "POST", "/api/v1/schedules/skipper/run?force=true", "", &got)
	if got.Outcome != api.OutcomeStarted || got.ExecutionID == "" || got.Status == store.StatusMissed {
		t.Fatalf("forced run answered %+v", got)
	}
}

// A handler that is offline: the attempt waiting for it says so, the next
// fires are missed because the previous run waits for the handler (not
// because it "was still running"), and stats count the missed occurrences
// as the schedule does. Before, the attempt was pending without a reason,
// and stats counted one record where the schedule counted every skip.
func TestAPI_OfflineHandlerRecordsSayWhy(t *testing.T) {
	tb := newTruth(t)
	if err := tb.eng.Registry().ReportStatus(context.Background(), "h", "offline"); err != nil {
		t.Fatal(err)
	}
	body := `{"job_id":"off","handler_id":"h","job_method":"hold","trigger":{"type":"interval","seconds":1}}`
	if code := tb.do(t, "POST", "/api/v1/schedules", body, nil); code != http.StatusCreated {
		t.Fatalf("add: %d", code)
	}
	const waiting = `waiting for handler "h" (offline since `
	var first store.Execution
	tb.await(t, "the first attempt recorded pending", func() bool {
		var l api.ExecutionList
		tb.do(t, "GET", "/api/v1/schedules/off/executions?status=pending", "", &l)
		if l.Count == 0 {
			return false
		}
		first = l.Executions[0]
		return true
	})
	if !strings.Contains(first.Error, waiting) {
		t.Fatalf("pending attempt's reason %q, want %q...", first.Error, waiting)
	}

	var got api.Triggered
	tb.do(t, "POST", "/api/v1/schedules/off/run", "", &got)
	want := "the previous run (" + first.ID + ") has not started: " + waiting
	if got.Outcome != api.OutcomeSkipped || !strings.HasPrefix(got.Reason, want) {
		t.Fatalf("run while the handler is offline: %+v, want a skip with reason %q...", got, want)
	}
	// The timer's skips are written within the flush interval (5 s), one
	// record for them all, with the same reason.
	tb.await(t, "the timer's skips recorded", func() bool {
		var l api.ExecutionList
		tb.do(t, "GET", "/api/v1/schedules/off/executions?status=missed", "", &l)
		for _, e := range l.Executions {
			if e.ID != got.ExecutionID {
				if !strings.Contains(e.Error, want) || strings.Contains(e.Error, "still running") {
					t.Fatalf("timer skip recorded %q, want %q...", e.Error, want)
				}
				return true
			}
		}
		return false
	})
	if code := tb.do(t, "POST", "/api/v1/schedules/off/pause", "", nil); code != http.StatusOK {
		t.Fatalf("pause: %d", code)
	}
	var sch api.Schedule
	var st api.Stats
	tb.do(t, "GET", "/api/v1/schedules/off", "", &sch)
	tb.do(t, "GET", "/api/v1/stats", "", &st)
	if sch.MissedCount < 2 || st.Missed != sch.MissedCount {
		t.Fatalf("stats say missed %d, the schedule %d (records: %d)", st.Missed, sch.MissedCount, st.ByStatus[store.StatusMissed])
	}
	if sch.HandlerState != "offline" {
		t.Errorf("schedule's handler_state %q, want offline", sch.HandlerState)
	}
}

// A removed handler leaves the handler list; its schedules say so, and
// their fires are recorded missed with the reason at once instead of
// waiting for a handler that will not come. Before, the scheduler had no
// way to learn of the removal and kept the handler offline forever.
func TestAPI_RemovedHandler(t *testing.T) {
	tb := newTruth(t)
	start := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	body := `{"job_id":"orphan","handler_id":"h","job_method":"hold","trigger":{"type":"interval","hours":1,"start_time":"` + start + `"}}`
	if code := tb.do(t, "POST", "/api/v1/schedules", body, nil); code != http.StatusCreated {
		t.Fatalf("add: %d", code)
	}
	if code := tb.do(t, "DELETE", "/api/v1/handlers/h", "", nil); code != http.StatusNoContent {
		t.Fatalf("DELETE /api/v1/handlers/h: %d, want 204", code)
	}
	if code := tb.do(t, "DELETE", "/api/v1/handlers/h", "", nil); code != http.StatusNotFound {
		t.Errorf("second DELETE: %d, want 404", code)
	}
	var hl api.HandlerList
	tb.do(t, "GET", "/api/v1/handlers", "", &hl)
	if len(hl.Handlers) != 0 {
		t.Errorf("handlers after removal: %+v", hl.Handlers)
	}
	var sl api.ScheduleList
	tb.do(t, "GET", "/api/v1/schedules", "", &sl)
	if len(sl.Schedules) != 1 || sl.Schedules[0].HandlerState != api.HandlerRemoved {
		t.Fatalf("schedules after removal: %+v", sl.Schedules)
	}
	var got api.Triggered
	tb.do(t, "POST", "/api/v1/schedules/orphan/run", "", &got)
	if got.Outcome != api.OutcomeSkipped || got.Status != store.StatusMissed || !strings.Contains(got.Reason, `handler "h" was removed`) {
		t.Fatalf("run of a removed handler's schedule: %+v", got)
	}
	var l api.ExecutionList
	tb.do(t, "GET", "/api/v1/schedules/orphan/executions", "", &l)
	if l.Count != 1 || l.Executions[0].Status != store.StatusMissed {
		t.Fatalf("history: %+v; want one missed record and nothing pending", l.Executions)
	}
}
