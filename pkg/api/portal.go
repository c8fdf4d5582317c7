package api

import (
	_ "embed"
	"net/http"
)

// The original served a web portal at / and its README at /api/readme; its
// own tests wait for / as the readiness probe. Ours is a small static page
// that says what this is (a dashboard may replace it) and a short text
// about the API owned by this package: the repository's README speaks of
// building and installing, which an API client does not need.
var (
	//go:embed site/index.html
	portalHTML []byte
	//go:embed site/README.txt
	readmeText []byte
)

func (s *server) portalRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/readme", s.readme)
	mux.HandleFunc("GET /api/config", s.config)
}

func (s *server) portal(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write(portalHTML)
}

func (s *server) readme(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write(readmeText)
}

// config answers Options.Config, the effective configuration as the daemon
// describes it (without secrets), plus what this package enforces.
func (s *server) config(w http.ResponseWriter, _ *http.Request) {
	s.writeJSON(w, http.StatusOK, map[string]any{
		"scheduler": s.cfg,
		"api": map[string]any{
			"authentication":   len(s.tokens) > 0,
			"tokens":           len(s.tokens),
			"cors_origins":     nonNil(s.cors.origins),
			"max_body_bytes":   s.maxBody,
			"max_params_bytes": s.maxParam,
		},
	})
}
