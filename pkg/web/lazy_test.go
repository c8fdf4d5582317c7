package web_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/schedulezero/schedulezero/pkg/api/apitest"
	"github.com/schedulezero/schedulezero/pkg/web"
)

// A scheduler whose dashboard nobody opens pays nothing for its
// templates: New parses none (9 pages parsed are some 6,000 allocations
// and 300 kB kept), the first page parses them all.
func TestNewParsesNoTemplate(t *testing.T) {
	b := apitest.NewBackend()
	allocs := testing.AllocsPerRun(3, func() { _ = web.New(web.Options{Backend: b}) })
	t.Logf("web.New: %.0f allocations", allocs)
	if allocs > 500 {
		t.Errorf("web.New made %.0f allocations, want at most 500: are the templates parsed in New again?", allocs)
	}
}

// Every page still renders after the lazy parse: the first request of
// each, in a fresh dashboard, parses the templates and renders.
func TestFirstPageParsesTemplates(t *testing.T) {
	for _, path := range []string{"/", "/schedules", "/schedules/ping", "/executions", "/handlers", "/calendar", "/no-such-page"} {
		t.Run(path, func(t *testing.T) {
			s := newSite(t)
			a, body := s.do(t, http.MethodGet, path, nil)
			want := http.StatusOK
			if path == "/no-such-page" {
				want = http.StatusNotFound
			}
			if a.StatusCode != want || !strings.Contains(body, "</html>") {
				t.Fatalf("GET %s: %d, want %d and a whole page; body %.200q", path, a.StatusCode, want, body)
			}
		})
	}
}
