// Package web is the scheduler's dashboard: server-rendered pages at / of
// the API listener (overview, schedules, executions, handlers, a calendar
// preview), readable without JavaScript, and a small script that keeps
// them live from the event stream (GET /api/v1/events). It reads and acts
// through the same api.Backend as the REST API, behind the same tokens: a
// browser types one once and keeps a session cookie (api.Sessions); every
// form that changes something carries the session's CSRF token and is
// refused from another origin.
package web

import (
	"embed"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/schedulezero/schedulezero/pkg/api"
	"github.com/schedulezero/schedulezero/pkg/event"
)

var (
	//go:embed templates/*.html
	templateFS embed.FS
	//go:embed static
	staticFS embed.FS
)

// Options configure the dashboard.
type Options struct {
	Backend api.Backend // required
	// Tokens are the API's tokens: when set, a page asks for one and keeps
	// a session cookie (see api.Sessions).
	Tokens []string
	// Location is the zone of schedules that name none, and the zone the
	// pages show times in; nil: time.Local.
	Location *time.Location
	Logger   *slog.Logger
	// NowFunc is the clock; nil: time.Now.
	NowFunc func() time.Time
	// Events is the engine's hub: a page carries the id of its newest
	// event, and its script opens the stream after it, so that nothing
	// between the page and the stream is missed; nil: pages carry none.
	Events *event.Hub
	// Governor is schedulezero-governor's API, for the Handlers page's
	// units and restarts; nil: the page says no governor is configured.
	Governor Governor
}

type server struct {
	b        api.Backend
	sessions *api.Sessions
	csrfKey  string // without tokens: the CSRF token of every form
	loc      *time.Location
	log      *slog.Logger
	now      func() time.Time
	// pages parses the templates at the first page served, not in New:
	// a scheduler whose dashboard nobody opens keeps neither the parse
	// trees (300 kB of heap) nor the parser's code resident.
	pages func() map[string]*template.Template
	hub   *event.Hub
	gov   Governor
	bufs  bufferPool
	// reading lets one page read the store at a time: the scheduler's
	// memory then grows by one page's reading however many are open.
	reading chan struct{}
}

// New returns the dashboard's handler. It serves every path it is given;
// mount it where the API does not answer (api.Options.UI).
func New(opts Options) http.Handler {
	if opts.Backend == nil {
		panic("web.New: Options.Backend is nil")
	}
	s := &server{b: opts.Backend, sessions: api.NewSessions(opts.Tokens), loc: opts.Location, log: opts.Logger, now: opts.NowFunc, hub: opts.Events, gov: opts.Governor, reading: make(chan struct{}, 1)}
	if s.loc == nil {
		s.loc = time.Local
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.csrfKey = newCSRFKey()
	s.pages = sync.OnceValue(func() map[string]*template.Template { return parsePages(s.funcs()) })

	mux := http.NewServeMux()
	static, _ := fs.Sub(staticFS, "static") // the directory is embedded
	mux.Handle("GET /static/", http.StripPrefix("/static/", cacheFor(http.FileServerFS(static))))
	mux.HandleFunc("GET /login", s.loginPage)
	mux.HandleFunc("POST /login", s.login)
	mux.HandleFunc("POST /logout", s.logout)
	page := func(pattern string, h func(http.ResponseWriter, *http.Request) (string, any, error)) {
		mux.Handle(pattern, s.authed(s.render(h)))
	}
	page("GET /{$}", s.overview)
	page("GET /schedules", s.schedules)
	page("GET /schedules/{id}", s.schedule)
	page("GET /executions", s.executions)
	page("GET /executions/{id}", s.execution)
	mux.Handle("GET /handlers", s.authed(http.HandlerFunc(s.handlersPage)))
	page("GET /calendar", s.calendar)
	mux.Handle("POST /schedules/{id}/{action}", s.authed(s.checkForm(http.HandlerFunc(s.scheduleAction))))
	mux.Handle("POST /handlers/{name}/restart", s.authed(s.checkForm(http.HandlerFunc(s.handlerRestart))))
	mux.Handle("/", s.authed(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.page(w, r, http.StatusNotFound, "error", errorView{Title: "Not found", Message: "no page " + r.URL.Path})
	})))
	return securityHeaders(mux)
}

func parsePages(funcs template.FuncMap) map[string]*template.Template {
	names := []string{"overview", "schedules", "schedule", "executions", "execution", "handlers", "calendar", "login", "error"}
	pages := make(map[string]*template.Template, len(names))
	for _, n := range names {
		pages[n] = template.Must(template.New(n).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/history.html", "templates/"+n+".html"))
	}
	return pages
}

// errorView is the data of the error page.
type errorView struct {
	Title, Message, Fix string
}

// frame is what every page's layout needs around the page's own data.
type frame struct {
	Title  string
	Nav    string
	CSRF   string
	Authed bool // a session is in use: show "log out"
	Now    time.Time
	Zone   string
	Flash  string
	Page   any
	// After is the id of the newest event when the page was read, for
	// the stream to start after ("" without a hub).
	After string
}

// render turns a page function (template name, data, error) into a
// handler; an error is shown on the error page with its status.
func (s *server) render(h func(http.ResponseWriter, *http.Request) (string, any, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case s.reading <- struct{}{}:
		case <-r.Context().Done():
			return
		}
		name, data, err := h(w, r)
		<-s.reading
		if err != nil {
			status, view := errorPage(err)
			s.page(w, r, status, "error", view)
			return
		}
		s.page(w, r, http.StatusOK, name, data)
	})
}

// page renders template name around data; it is buffered so that a
// template error is a 500, not half a page.
func (s *server) page(w http.ResponseWriter, r *http.Request, status int, name string, data any) {
	t, ok := s.pages()[name]
	if !ok {
		http.Error(w, "no template "+name, http.StatusInternalServerError)
		return
	}
	after := ""
	if s.hub != nil {
		after = api.EventID(s.hub.Epoch(), s.hub.Last())
	}
	fr := frame{After: after, Title: titles[name], Nav: navOf[name], CSRF: s.csrfOf(r), Authed: s.sessions.Enabled(), Now: s.now().In(s.loc),
		Zone: s.loc.String(), Flash: flashes[r.URL.Query().Get("done")], Page: data}
	if v, ok := data.(errorView); ok {
		fr.Title = v.Title
	}
	buf := s.bufs.get()
	defer s.bufs.put(buf)
	if err := t.ExecuteTemplate(buf, "layout", fr); err != nil {
		s.log.Error("dashboard page", "path", r.URL.Path, "err", err)
		http.Error(w, "the page could not be rendered", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// flashes are the messages a redirect after an action asks for (?done=).
var flashes = map[string]string{
	"pause": "Paused.", "resume": "Resumed.", "delete": "Deleted.",
	"started": "Started: this is the new execution.", "skipped": "Not run: the overlap policy skipped it (see the history).",
	"queued":  "Queued: it runs after the run in progress.",
	"restart": "Restarted: the governor started the handler again.",
}

var titles = map[string]string{
	"overview": "Overview", "schedules": "Schedules", "schedule": "Schedule", "executions": "Executions",
	"execution": "Execution", "handlers": "Handlers", "calendar": "Calendar preview", "login": "Log in", "error": "Error",
}

var navOf = map[string]string{
	"overview": "overview", "schedules": "schedules", "schedule": "schedules", "executions": "executions",
	"execution": "executions", "handlers": "handlers", "calendar": "calendar",
}

// securityHeaders forbids framing and inline scripts: the pages need
// neither, and the live script is a file of their origin.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}

func cacheFor(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=300")
		next.ServeHTTP(w, r)
	})
}
