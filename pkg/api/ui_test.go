package api_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/schedulezero/schedulezero/pkg/api"
	"github.com/schedulezero/schedulezero/pkg/api/apitest"
)

// The dashboard (Options.UI) authenticates its own pages; what the API
// serves beside it keeps the bearer token: /api and /metrics.
func TestUI_PagesAreTheDashboardsTheRestKeepsTheToken(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "served") })
	srv := httptest.NewServer(api.New(api.Options{Backend: apitest.NewBackend(), Tokens: []string{"a-token-of-enough-length"}, UI: ok, Metrics: ok}))
	defer srv.Close()
	for _, tt := range []struct {
		path string
		want int
	}{
		{"/", http.StatusOK},
		{"/schedules/x", http.StatusOK},
		{"/metrics", http.StatusUnauthorized},
		{"/api/v1/schedules", http.StatusUnauthorized},
		{"/api/nowhere", http.StatusUnauthorized},
		{"/api/v1/health", http.StatusOK},
	} {
		resp, err := http.Get(srv.URL + tt.path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("GET %s without a token: %d, want %d", tt.path, resp.StatusCode, tt.want)
		}
	}
}
