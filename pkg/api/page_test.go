package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"testing"

	"github.com/schedulezero/schedulezero/pkg/api"
	"github.com/schedulezero/schedulezero/pkg/api/apitest"
	"github.com/schedulezero/schedulezero/pkg/store"
)

// TestAPI_V1_Pages follows next_cursor through the schedules and the
// executions, and rejects a cursor that is not one.
func TestAPI_V1_Pages(t *testing.T) {
	tb := setup(t, api.Options{})
	for i := range 5 {
		body := fmt.Sprintf(`{"id":"s%d","handler_id":"dingaling","job_method":"ping","trigger":{"type":"interval","seconds":60}}`, i)
		if code, out := tb.do(t, "POST", "/api/v1/schedules", body); code != http.StatusCreated {
			t.Fatalf("create s%d: %d %s", i, code, out)
		}
	}
	for i := range 5 {
		tb.b.AddExecution(store.Execution{ID: fmt.Sprintf("ex-%d", i), Attempt: 1, ScheduleID: "s1", HandlerID: "dingaling",
			Method: "ping", Status: store.StatusSucceeded, StartedAt: apitest.Epoch})
	}
	tests := []struct {
		name, path string
		want       []string
		items      func([]byte) ([]string, string)
	}{
		{"schedules", "/api/v1/schedules?limit=2", []string{"s0", "s1", "s2", "s3", "s4"}, func(b []byte) ([]string, string) {
			var l api.ScheduleList
			if err := json.Unmarshal(b, &l); err != nil || l.Count != len(l.Schedules) {
				t.Fatalf("body %s: %v", b, err)
			}
			var out []string
			for _, s := range l.Schedules {
				out = append(out, s.ID)
			}
			return out, l.NextCursor
		}},
		{"executions", "/api/v1/executions?schedule_id=s1&limit=2", []string{"ex-4", "ex-3", "ex-2", "ex-1", "ex-0"}, func(b []byte) ([]string, string) {
			var l api.ExecutionList
			if err := json.Unmarshal(b, &l); err != nil || l.Count != len(l.Executions) {
				t.Fatalf("body %s: %v", b, err)
			}
			var out []string
			for _, e := range l.Executions {
				out = append(out, e.ID)
			}
			return out, l.NextCursor
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			path := tt.path
			for range len(tt.want) {
				code, body := tb.do(t, "GET", path, "")
				if code != http.StatusOK {
					t.Fatalf("GET %s: %d %s", path, code, body)
				}
				items, next := tt.items(body)
				if len(items) > 2 {
					t.Fatalf("GET %s: %d items, limit 2", path, len(items))
				}
				got = append(got, items...)
				if next == "" {
					break
				}
				path = tt.path + "&cursor=" + url.QueryEscape(next)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("paged %v, want %v", got, tt.want)
			}
			code, body := tb.do(t, "GET", tt.path+"&cursor=%21%21", "")
			var e api.ErrorBody
			_ = json.Unmarshal(body, &e)
			if code != http.StatusBadRequest || e.Error.Field != "cursor" {
				t.Errorf("bad cursor: %d %s, want 400 naming cursor", code, body)
			}
		})
	}
}
