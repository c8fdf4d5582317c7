package api_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/api"
	"github.com/schedulezero/schedulezero/pkg/api/apitest"
)

// TestExecutionsWindow checks since and until of GET /api/v1/executions
// against the seeded attempts at Epoch+1m, +2m (started) and +3m (missed,
// scheduled), and the run of the seed at Epoch.
func TestExecutionsWindow(t *testing.T) {
	at := func(d time.Duration) string { return url.QueryEscape(apitest.Epoch.Add(d).Format(time.RFC3339)) }
	tests := []struct {
		name  string
		query string
		want  []int // attempts' minutes after Epoch, newest first
	}{
		{"since", "since=" + at(90*time.Second), []int{3, 2}},
		{"until", "until=" + at(150*time.Second), []int{2, 1, 0}},
		{"both", "since=" + at(90*time.Second) + "&until=" + at(150*time.Second), []int{2}},
		{"bounds included", "since=" + at(2*time.Minute) + "&until=" + at(2*time.Minute), []int{2}},
		{"limit after the window", "since=" + at(0) + "&limit=1", []int{3}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tb := setup(t, api.Options{})
			seed(t, tb)
			code, body := tb.do(t, "GET", "/api/v1/executions?schedule_id=counter&"+tc.query, "")
			if code != http.StatusOK {
				t.Fatalf("%d %s", code, body)
			}
			var l api.ExecutionList
			if err := json.Unmarshal(body, &l); err != nil {
				t.Fatal(err)
			}
			var got []int
			for _, e := range l.Executions {
				if ts := e.StartedAt; !ts.IsZero() || !e.ScheduledAt.IsZero() {
					if ts.IsZero() {
						ts = e.ScheduledAt
					}
					got = append(got, int(ts.Sub(apitest.Epoch)/time.Minute))
				}
			}
			if len(got) != len(tc.want) {
				t.Fatalf("minutes %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("minutes %v, want %v", got, tc.want)
				}
			}
		})
	}
	tb := setup(t, api.Options{})
	if code, body := tb.do(t, "GET", "/api/v1/executions?since=yesterday", ""); code != http.StatusBadRequest || !json.Valid(body) {
		t.Errorf("since=yesterday: %d %s, want 400", code, body)
	}
}
