package scheduler_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/handler"
	"github.com/schedulezero/schedulezero/pkg/handler/exec"
	"github.com/schedulezero/schedulezero/pkg/handlername"
	"github.com/schedulezero/schedulezero/pkg/scheduler"
	"github.com/schedulezero/schedulezero/pkg/scheduler/schedtype"
	"github.com/schedulezero/schedulezero/pkg/store"
)

// A job that hits its deadline on the handler and says so (an SDK method
// returning ctx.Err(), an exec command killed by its method timeout) is
// recorded "timeout", not "error", and retry_on decides by that outcome.
// Before, both were "error": retry_on ["timeout"] did not retry them and
// retry_on ["error"] did.
func TestTimeout_HandlerReportedDeadlineIsTimeout(t *testing.T) {
	b := setup(t, scheduler.Options{})
	mux := handler.NewMux()
	mux.HandleFunc("wait", func(ctx context.Context, _ *handler.Job) (any, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	})
	runner, err := exec.New(map[string]exec.Command{
		"sleep": {Command: []string{"/bin/sleep", "5"}, Timeout: handlername.Duration(200 * time.Millisecond)},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	runner.Register(mux)
	b.serveHandler(t, "slow", 8, mux)

	for _, tc := range []struct {
		name, method string
		timeout      time.Duration // the job's; the exec method has its own 200ms
		retryOn      string
		wantAttempts int
	}{
		{"sdk ctx.Err, retry on timeout", "wait", 300 * time.Millisecond, store.RetryOnTimeout, 2},
		{"sdk ctx.Err, retry on error", "wait", 300 * time.Millisecond, store.RetryOnError, 1},
		{"exec killed, retry on timeout", "sleep", 30 * time.Second, store.RetryOnTimeout, 2},
		{"exec killed, retry on error", "sleep", 30 * time.Second, store.RetryOnError, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := tc.method + "-" + tc.retryOn
			_, err := b.engine.AddSchedule(context.Background(), schedtype.ScheduleRequest{
				ID: id, HandlerID: "slow", Method: tc.method, MaxAttempts: 2, Timeout: tc.timeout,
				Trigger: json.RawMessage(`{"type":"date","run_date":"` + time.Now().UTC().Format(time.RFC3339Nano) + `"}`),
				Policy:  store.Policy{RetryOn: []string{tc.retryOn}, Backoff: time.Millisecond, BackoffMax: time.Millisecond},
			})
			if err != nil {
				t.Fatal(err)
			}
			var recs []store.Execution
			await(t, "the execution to end", func() bool {
				recs = b.executions(t, store.ExecutionFilter{ScheduleID: id})
				final := 0
				for _, r := range recs {
					if r.Status.Finished() {
						final++
					}
				}
				return final == tc.wantAttempts && final == len(recs) || final > tc.wantAttempts
			})
			if len(recs) != tc.wantAttempts {
				t.Fatalf("%d attempts, want %d: %+v", len(recs), tc.wantAttempts, recs)
			}
			for _, r := range recs {
				if r.Status != store.StatusTimedOut {
					t.Errorf("attempt %d: status %s (%s), want timeout", r.Attempt, r.Status, r.Error)
				}
			}
		})
	}
}
