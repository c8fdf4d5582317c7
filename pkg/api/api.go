package api

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/schedulezero/schedulezero/pkg/event"
)

// Defaults for Options.
const (
	DefaultMaxBodyBytes   = 1 << 20  // 1 MiB
	DefaultMaxParamsBytes = 64 << 10 // 64 KiB
)

// Options configures New.
type Options struct {
	// Backend is the engine the API serves; required.
	Backend Backend
	// Logger receives one debug record per request and the text of internal
	// errors; nil discards.
	Logger *slog.Logger
	// MaxBodyBytes bounds request bodies (413 above it); 0 means
	// DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// MaxParamsBytes bounds job_params (413 above it); 0 means
	// DefaultMaxParamsBytes.
	MaxParamsBytes int
	// Tokens are the accepted bearer tokens. Empty means no authentication;
	// otherwise every endpoint but the health checks needs
	// "Authorization: Bearer <token>".
	Tokens []string
	// CORSOrigins are the origins (scheme://host[:port], or "*") whose
	// pages may call the API from a browser: their requests get
	// Access-Control-Allow-Origin and their preflights an answer. Empty:
	// none (see cors).
	CORSOrigins []string
	// Config is the daemon's effective configuration, answered by
	// GET /api/config as JSON; it must hold no secrets.
	Config any
	// Events is the engine's event hub, served as GET /api/v1/events;
	// nil: that endpoint answers 501.
	Events *event.Hub
	// EventHeartbeat is how often an idle event stream sends a comment,
	// so that proxies and clients see it alive; 0: DefaultEventHeartbeat.
	EventHeartbeat time.Duration
	// UI, when set, serves every path outside /api (the dashboard, whose
	// pages authenticate by themselves); nil: / is a small static page.
	UI http.Handler
	// Metrics, when set, serves GET /metrics (the Prometheus exposition),
	// behind the same bearer token as the rest of the API.
	Metrics http.Handler
	// Notifications, when set, serves /api/v1/notifications (notify.go).
	Notifications Notifications
}

type server struct {
	b        Backend
	log      *slog.Logger
	maxBody  int64
	maxParam int
	tokens   [][]byte
	sessions *Sessions
	cors     cors
	cfg      any
	hub      *event.Hub
	frames   *frameCache
	ui       http.Handler

	heartbeat time.Duration
}

// New returns the handler serving the original endpoints under /api and the
// versioned API under /api/v1. It panics if opts.Backend is nil, a
// programming error.
func New(opts Options) http.Handler {
	if opts.Backend == nil {
		panic("api.New: Options.Backend is nil")
	}
	s := &server{b: opts.Backend, log: opts.Logger, maxBody: opts.MaxBodyBytes, maxParam: opts.MaxParamsBytes,
		cors: cors{origins: splitOrigins(opts.CORSOrigins)}, cfg: opts.Config,
		hub: opts.Events, ui: opts.UI, heartbeat: opts.EventHeartbeat, sessions: NewSessions(opts.Tokens)}
	if s.heartbeat <= 0 {
		s.heartbeat = DefaultEventHeartbeat
	}
	if s.hub != nil {
		s.frames = newFrameCache(s.hub.Epoch())
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.log = s.log.With("component", "api")
	if s.maxBody <= 0 {
		s.maxBody = DefaultMaxBodyBytes
	}
	if s.maxParam <= 0 {
		s.maxParam = DefaultMaxParamsBytes
	}
	for _, t := range opts.Tokens {
		s.tokens = append(s.tokens, []byte(t))
	}

	mux := http.NewServeMux()
	s.legacyRoutes(mux)
	s.v1Routes(mux)
	s.portalRoutes(mux)
	if opts.Metrics != nil {
		mux.Handle("GET /metrics", opts.Metrics)
	}
	if opts.Notifications != nil {
		s.notifyRoutes(mux, opts.Notifications)
	}
	notFound := func(w http.ResponseWriter, r *http.Request) {
		s.writeErr(w, r, fieldErr(http.StatusNotFound, "", fmt.Sprintf("no endpoint %s %s", r.Method, r.URL.Path), "see GET /api/v1/health and the API documentation"))
	}
	if s.ui != nil {
		mux.Handle("/", s.ui)
		mux.HandleFunc("/api/", notFound)
	} else {
		mux.HandleFunc("GET /{$}", s.portal)
		mux.HandleFunc("/", notFound)
	}
	return s.middleware(mux)
}

// statusWriter remembers the status for the request log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

// Unwrap lets http.ResponseController reach the connection (the event
// stream flushes and sets write deadlines through it).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (s *server) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if v := recover(); v != nil {
				s.log.Error("panic serving request", "method", r.Method, "path", r.URL.Path, "err", fmt.Sprint(v))
				if sw.status == 0 {
					s.writeJSON(sw, http.StatusInternalServerError, ErrorBody{Error: ErrorDetail{Code: 500, Message: "internal error"}})
				}
			}
			if sw.status == 0 {
				sw.status = http.StatusOK
			}
			s.log.Debug("http request", "method", r.Method, "path", r.URL.Path, "status", sw.status,
				"duration_ms", float64(time.Since(start).Microseconds())/1000, "remote", r.RemoteAddr)
		}()
		// A preflight carries no credentials: it is answered before
		// authentication.
		if s.cors.handle(sw, r) {
			return
		}
		if !s.authorized(r) {
			sw.Header().Set("WWW-Authenticate", `Bearer realm="schedulezero"`)
			s.writeErr(sw, r, fieldErr(http.StatusUnauthorized, "", "missing or invalid bearer token", "send Authorization: Bearer <token>"))
			return
		}
		next.ServeHTTP(sw, r)
	})
}

// authorized checks the bearer token. Health checks and the static page at
// / (the original's readiness probe) stay open so that probes need no
// secret; so does the dashboard (Options.UI), which asks for the token
// itself. A dashboard's session cookie is taken for the token on reads
// only (the event stream, which a browser's EventSource opens without
// headers): a cookie is sent by the browser on its own, so a request it
// authenticates must change nothing (the dashboard's forms carry a CSRF
// token instead).
func (s *server) authorized(r *http.Request) bool {
	if !s.sessions.Enabled() || r.URL.Path == "/api/health" || r.URL.Path == "/api/v1/health" {
		return true
	}
	if !strings.HasPrefix(r.URL.Path, "/api/") && r.URL.Path != "/metrics" && (s.ui != nil || r.URL.Path == "/") {
		return true
	}
	if got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		return s.sessions.CheckToken(got)
	}
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return s.sessions.Valid(s.sessions.FromRequest(r))
	}
	return false
}

func (s *server) writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	if err := enc.Encode(v); err != nil {
		s.log.Debug("writing response", "err", err)
	}
}

func (s *server) writeErr(w http.ResponseWriter, r *http.Request, err error) {
	status, detail := statusOf(err)
	if status == http.StatusInternalServerError {
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	s.writeJSON(w, status, ErrorBody{Error: detail})
}
