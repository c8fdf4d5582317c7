package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/schedulezero/schedulezero/pkg/api"
)

// A schedule a file manages is changed only by its file, or once detached:
// an edit or a delete from anyone else is a 409 that names the file.
func TestV1_FileManagedSchedule(t *testing.T) {
	const src = "file:/etc/schedulezero/schedules.d/nightly.schedule"
	tests := []struct {
		name, method, path, body string
		want                     int
	}{
		{"edit", "PATCH", "/api/v1/schedules/nightly", `{"job_method":"quick_aling"}`, http.StatusConflict},
		{"delete", "DELETE", "/api/v1/schedules/nightly", "", http.StatusConflict},
		{"replace", "POST", "/api/v1/schedules", `{"id":"nightly","replace":true,"handler_id":"dingaling","job_method":"ping","trigger":{"type":"interval","seconds":5}}`, http.StatusConflict},
		{"edit by its file", "PATCH", "/api/v1/schedules/nightly", `{"job_method":"quick_aling","source":"` + src + `"}`, http.StatusOK},
		{"delete by its file", "DELETE", "/api/v1/schedules/nightly?source=" + src, "", http.StatusNoContent},
		{"pause", "POST", "/api/v1/schedules/nightly/pause", "", http.StatusOK},
		{"edit detached", "PATCH", "/api/v1/schedules/nightly?detach=true", `{"job_method":"quick_aling"}`, http.StatusOK},
		{"delete detached", "DELETE", "/api/v1/schedules/nightly?detach=true", "", http.StatusNoContent},
		{"legacy delete", "DELETE", "/api/schedules/nightly", "", http.StatusConflict},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tb := setup(t, api.Options{})
			code, out := tb.do(t, "POST", "/api/v1/schedules", `{"id":"nightly","handler_id":"dingaling","job_method":"ping",`+
				`"trigger":{"type":"interval","seconds":10},"source":"`+src+`"}`)
			if code != http.StatusCreated || !strings.Contains(string(out), `"source":"`+src+`"`) {
				t.Fatalf("create: %d %s", code, out)
			}
			code, out = tb.do(t, tt.method, tt.path, tt.body)
			if code != tt.want {
				t.Fatalf("%s %s: %d %s, want %d", tt.method, tt.path, code, out, tt.want)
			}
			if code == http.StatusConflict {
				var eb api.ErrorBody
				if err := json.Unmarshal(out, &eb); err != nil || !strings.Contains(eb.Error.Message, "/etc/schedulezero/schedules.d/nightly.schedule") ||
					!strings.Contains(eb.Error.Fix, "schedule detach nightly") {
					t.Fatalf("409 body %s: want the file and the detach command", out)
				}
			}
			if strings.Contains(tt.path, "detach") && tt.method == "PATCH" {
				_, out = tb.do(t, "GET", "/api/v1/schedules/nightly", "")
				if strings.Contains(string(out), `"source"`) {
					t.Fatalf("detached schedule still has a source: %s", out)
				}
			}
		})
	}
}
