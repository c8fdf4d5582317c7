package governord

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	schedapi "github.com/schedulezero/schedulezero/pkg/api"
	"github.com/schedulezero/schedulezero/pkg/field"
	"github.com/schedulezero/schedulezero/pkg/governor"
	"github.com/schedulezero/schedulezero/pkg/metric"
	"github.com/schedulezero/schedulezero/pkg/unitctl"
)

// maxBody bounds a request body.
const maxBody = 1 << 20

// HandlerList is the body of GET /v1/handlers.
type HandlerList struct {
	Handlers []governor.HandlerInfo `json:"handlers"`
}

// NewAPI returns the governor's HTTP API:
//
//	GET    /v1/handlers                 {"handlers":[HandlerInfo…]}
//	POST   /v1/handlers                 HandlerConfig → 201 HandlerInfo
//	GET    /v1/handlers/{name}          HandlerInfo
//	DELETE /v1/handlers/{name}          ?timeout=10s → 204
//	POST   /v1/handlers/{name}/start    HandlerInfo
//	POST   /v1/handlers/{name}/stop     ?timeout=10s → HandlerInfo
//	POST   /v1/handlers/{name}/restart  HandlerInfo
//	GET    /v1/metrics                  Metrics
//	GET    /v1/health                   {"handler": healthy…}
//	GET    /metrics                     Prometheus text (docs/metrics.md)
func NewAPI(g Handlers, logger *slog.Logger) http.Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	a := &api{g: g, logger: logger.With("component", "governor_api")}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/handlers", a.list)
	mux.HandleFunc("POST /v1/handlers", a.add)
	mux.HandleFunc("GET /v1/handlers/{name}", a.status)
	mux.HandleFunc("DELETE /v1/handlers/{name}", a.remove)
	mux.HandleFunc("POST /v1/handlers/{name}/{verb}", a.verb)
	mux.HandleFunc("GET /v1/metrics", a.metrics)
	mux.HandleFunc("GET /v1/health", a.health)
	mux.Handle("GET /metrics", metric.Governor(a.units))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		a.fail(w, r, http.StatusNotFound, errors.New("no such endpoint: "+r.Method+" "+r.URL.Path), "", "")
	})
	return mux
}

// Handlers is what the API asks of the supervisor (a *governor.Supervisor):
// the per-handler operations and the summaries, not its own lifecycle.
type Handlers interface {
	ListHandlers(ctx context.Context) ([]governor.HandlerInfo, error)
	HandlerStatus(ctx context.Context, name string) (governor.HandlerInfo, error)
	AddHandler(ctx context.Context, cfg governor.HandlerConfig) (governor.HandlerInfo, error)
	RemoveHandler(ctx context.Context, name string, timeout time.Duration) error
	StartHandler(ctx context.Context, name string) error
	StopHandler(ctx context.Context, name string, timeout time.Duration) error
	RestartHandler(ctx context.Context, name string) error
	HealthCheck(ctx context.Context) (map[string]bool, error)
	Metrics(ctx context.Context) (governor.Metrics, error)
}

type api struct {
	g      Handlers
	logger *slog.Logger
}

func (a *api) reply(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	if v != nil {
		_ = json.NewEncoder(w).Encode(v)
	}
}

// fail answers with the scheduler API's envelope, api.ErrorBody. A 500's
// error is logged, not sent: its text may hold internals (paths, D-Bus
// names), as in the scheduler's API.
func (a *api) fail(w http.ResponseWriter, r *http.Request, code int, err error, fld, fix string) {
	msg := err.Error()
	if code >= 500 {
		a.logger.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	if code == http.StatusInternalServerError {
		msg = "internal error"
	}
	a.reply(w, code, schedapi.ErrorBody{Error: schedapi.ErrorDetail{Code: code, Message: msg, Field: fld, Fix: fix}})
}

// failErr maps an error to its status once, here at the edge.
func (a *api) failErr(w http.ResponseWriter, r *http.Request, err error) {
	var fe *field.Error
	switch {
	case errors.As(err, &fe):
		a.fail(w, r, http.StatusBadRequest, err, fe.Field, fe.Fix)
	case errors.Is(err, governor.ErrNotFound):
		a.fail(w, r, http.StatusNotFound, err, "name", "")
	case errors.Is(err, governor.ErrExists):
		a.fail(w, r, http.StatusConflict, err, "name", "remove it first or choose another name")
	case errors.Is(err, unitctl.ErrAccessDenied):
		a.fail(w, r, http.StatusForbidden, err, "", "install packaging/polkit/schedulezero-governor.rules and run the governor as user schedulezero")
	case errors.Is(err, unitctl.ErrJob):
		a.fail(w, r, http.StatusBadGateway, err, "", "the handler stays configured; see its journal: journalctl -u schedulezero-handler@NAME")
	case errors.Is(err, unitctl.ErrNotInstalled):
		a.fail(w, r, http.StatusServiceUnavailable, err, "", "install schedulezero-handler@.service and its enable/disable helpers, then systemctl daemon-reload")
	default:
		a.fail(w, r, http.StatusInternalServerError, err, "", "")
	}
}

// timeout reads ?timeout=, default governor.DefaultStopTimeout.
func (a *api) timeout(w http.ResponseWriter, r *http.Request) (time.Duration, bool) {
	v := r.URL.Query().Get("timeout")
	if v == "" {
		return governor.DefaultStopTimeout, true
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		a.fail(w, r, http.StatusBadRequest, errors.New("timeout: not a positive duration"), "timeout", `use a duration such as "10s"`)
		return 0, false
	}
	return d, true
}

func (a *api) list(w http.ResponseWriter, r *http.Request) {
	hs, err := a.g.ListHandlers(r.Context())
	if err != nil {
		a.failErr(w, r, err)
		return
	}
	a.reply(w, http.StatusOK, HandlerList{Handlers: hs})
}

func (a *api) add(w http.ResponseWriter, r *http.Request) {
	var cfg governor.HandlerConfig
	d := json.NewDecoder(io.LimitReader(r.Body, maxBody))
	d.DisallowUnknownFields()
	if err := d.Decode(&cfg); err != nil {
		fld := ""
		if _, after, ok := strings.Cut(err.Error(), "unknown field "); ok {
			fld = strings.Trim(after, `"`)
		}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			fld = te.Field
		}
		a.fail(w, r, http.StatusBadRequest, errors.New("body: "+err.Error()), fld,
			"send a JSON HandlerConfig: name, kind, methods, endpoint, scheduler, concurrency, auto_restart, max_restarts, restart_delay, extra")
		return
	}
	hi, err := a.g.AddHandler(r.Context(), cfg)
	if err != nil {
		a.failErr(w, r, err)
		return
	}
	a.reply(w, http.StatusCreated, hi)
}

func (a *api) status(w http.ResponseWriter, r *http.Request) {
	hi, err := a.g.HandlerStatus(r.Context(), r.PathValue("name"))
	if err != nil {
		a.failErr(w, r, err)
		return
	}
	a.reply(w, http.StatusOK, hi)
}

func (a *api) remove(w http.ResponseWriter, r *http.Request) {
	d, ok := a.timeout(w, r)
	if !ok {
		return
	}
	if err := a.g.RemoveHandler(r.Context(), r.PathValue("name"), d); err != nil {
		a.failErr(w, r, err)
		return
	}
	a.reply(w, http.StatusNoContent, nil)
}

func (a *api) verb(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	var err error
	switch r.PathValue("verb") {
	case "start":
		err = a.g.StartHandler(r.Context(), name)
	case "stop":
		d, ok := a.timeout(w, r)
		if !ok {
			return
		}
		err = a.g.StopHandler(r.Context(), name, d)
	case "restart":
		err = a.g.RestartHandler(r.Context(), name)
	default:
		a.fail(w, r, http.StatusNotFound, errors.New("no such action: "+r.PathValue("verb")), "verb", "use start, stop or restart")
		return
	}
	if err != nil {
		a.failErr(w, r, err)
		return
	}
	a.status(w, r)
}

func (a *api) metrics(w http.ResponseWriter, r *http.Request) {
	m, err := a.g.Metrics(r.Context())
	if err != nil {
		a.failErr(w, r, err)
		return
	}
	a.reply(w, http.StatusOK, m)
}

// units is the governor's handlers in the metrics exporter's terms.
func (a *api) units(ctx context.Context) ([]metric.Unit, error) {
	list, err := a.g.ListHandlers(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]metric.Unit, len(list))
	for i, h := range list {
		out[i] = metric.Unit{Name: h.Name, State: h.State, Restarts: h.Restarts, Healthy: h.Healthy, MemoryBytes: h.MemoryBytes,
			CheckLatencyMS: float64(time.Duration(h.Health.LatencyEWMA)) / float64(time.Millisecond), CheckErrorRate: h.Health.ErrorRate}
	}
	return out, nil
}

func (a *api) health(w http.ResponseWriter, r *http.Request) {
	h, err := a.g.HealthCheck(r.Context())
	if err != nil {
		a.failErr(w, r, err)
		return
	}
	a.reply(w, http.StatusOK, h)
}
