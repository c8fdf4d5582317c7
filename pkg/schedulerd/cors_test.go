package schedulerd_test

import (
	"net/http"
	"testing"

	"github.com/schedulezero/schedulezero/pkg/schedulerd"
)

// TestCORS_AllowList: with no --cors-origin no origin gets CORS headers;
// with one, its preflights are answered (before authentication, since
// preflights carry no token) and its requests get its origin back, while
// other origins get nothing.
func TestCORS_AllowList(t *testing.T) {
	const allowed, other = "https://dash.example", "https://evil.example"
	preflight := []string{"Origin", allowed, "Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "content-type, authorization"}

	t.Run("off by default", func(t *testing.T) {
		r := startRest(t, schedulerd.Options{})
		resp, _ := r.do(t, "OPTIONS", "/api/schedule", "", preflight...)
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "" || resp.StatusCode == http.StatusNoContent {
			t.Errorf("preflight without an allow-list: %d, Allow-Origin %q", resp.StatusCode, got)
		}
		resp, _ = r.do(t, "GET", "/api/health", "", "Origin", allowed)
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "" {
			t.Errorf("GET without an allow-list: Allow-Origin %q", got)
		}
	})

	r := startRest(t, schedulerd.Options{CORSOrigins: []string{allowed}, Tokens: []string{"tok"}})
	anon := &rest{url: r.url, c: r.c}
	tests := []struct {
		name        string
		method      string
		hdr         []string
		status      int
		allowOrigin string
		methods     bool
	}{
		{"preflight of an allowed origin", "OPTIONS", preflight, http.StatusNoContent, allowed, true},
		{"preflight of another origin", "OPTIONS", []string{"Origin", other, "Access-Control-Request-Method", "POST"}, http.StatusUnauthorized, "", false},
		{"request of an allowed origin", "GET", []string{"Origin", allowed}, http.StatusOK, allowed, false},
		{"request of another origin", "GET", []string{"Origin", other}, http.StatusOK, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, path := anon, "/api/schedule"
			if tc.method == "GET" {
				c, path = r, "/api/schedules"
			}
			resp, body := c.do(t, tc.method, path, "", tc.hdr...)
			h := resp.Header
			if resp.StatusCode != tc.status || h.Get("Access-Control-Allow-Origin") != tc.allowOrigin || h.Get("Vary") == "" {
				t.Errorf("%d (want %d), Allow-Origin %q (want %q), Vary %q: %s", resp.StatusCode, tc.status,
					h.Get("Access-Control-Allow-Origin"), tc.allowOrigin, h.Values("Vary"), body)
			}
			if tc.methods && (h.Get("Access-Control-Allow-Methods") == "" || h.Get("Access-Control-Allow-Headers") != "Authorization, Content-Type") {
				t.Errorf("preflight headers %v", h)
			}
			if !tc.methods && h.Get("Access-Control-Allow-Methods") != "" {
				t.Errorf("not a preflight of an allowed origin, but Allow-Methods %q", h.Get("Access-Control-Allow-Methods"))
			}
		})
	}
}
