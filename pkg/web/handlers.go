package web

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/schedulezero/schedulezero/pkg/client"
	"github.com/schedulezero/schedulezero/pkg/governor"
	"github.com/schedulezero/schedulezero/pkg/handlername"
	"github.com/schedulezero/schedulezero/pkg/scheduler/schedtype"
)

// Governor is what the Handlers page needs of schedulezero-governor's
// API; *client.Client of pkg/governor/client satisfies it.
type Governor interface {
	List(ctx context.Context) ([]governor.HandlerInfo, error)
	Restart(ctx context.Context, name string) (governor.HandlerInfo, error)
}

const (
	// governorReadTimeout bounds the page's read of the governor: a
	// governor that is down or stalls costs the page this, no more.
	governorReadTimeout = 2 * time.Second
	// governorRestartTimeout bounds a restart, which waits for the
	// handler to stop (SIGTERM, then its stop timeout) and start again:
	// a deadline shorter than that would cut a restart in the middle.
	governorRestartTimeout = 15 * time.Second
)

type handlersView struct {
	Handlers []schedtype.HandlerStatus
	Governor governorView
	Confirm  string // a handler whose restart asks to be confirmed
	CSRF     string
}

// governorView is the governor's part of the page.
type governorView struct {
	Configured bool
	Error      string // "governor not reachable: …"
	Units      []governor.HandlerInfo
}

// handlersPage reads the governor before it takes its turn to read the
// engine, so that a governor that stalls delays this page only.
func (s *server) handlersPage(w http.ResponseWriter, r *http.Request) {
	gv := s.governorView(r.Context())
	s.render(func(_ http.ResponseWriter, r *http.Request) (string, any, error) {
		return s.handlers(r, gv)
	}).ServeHTTP(w, r)
}

func (s *server) governorView(ctx context.Context) governorView {
	if s.gov == nil {
		return governorView{}
	}
	ctx, cancel := context.WithTimeout(ctx, governorReadTimeout)
	defer cancel()
	units, err := s.gov.List(ctx)
	if err != nil {
		s.log.Warn("dashboard: governor", "err", err)
		return governorView{Configured: true, Error: "governor not reachable: " + err.Error()}
	}
	slices.SortFunc(units, func(a, b governor.HandlerInfo) int { return cmp.Compare(a.Name, b.Name) })
	return governorView{Configured: true, Units: units}
}

func (s *server) handlers(r *http.Request, gv governorView) (string, any, error) {
	hs, err := s.b.Handlers(r.Context())
	if err != nil {
		return "", nil, err
	}
	v := handlersView{Governor: gv, CSRF: s.csrfOf(r)}
	for _, h := range hs {
		if h.Status != "removed" {
			v.Handlers = append(v.Handlers, h)
		}
	}
	slices.SortFunc(v.Handlers, func(a, b schedtype.HandlerStatus) int { return cmp.Compare(a.ID, b.ID) })
	if r.URL.Query().Get("confirm") == "restart" {
		v.Confirm = trimmed(r, "name")
	}
	return "handlers", v, nil
}

// handlerRestart runs a confirmed restart through the governor; an
// unconfirmed one shows the Handlers page asking to confirm it.
func (s *server) handlerRestart(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if err := handlername.Check(name); err != nil {
		s.page(w, r, http.StatusBadRequest, "error", errorView{Title: "Bad request", Message: "handler name: " + err.Error(), Fix: "use the Restart button of the Handlers page"})
		return
	}
	if r.PostFormValue("confirm") != "yes" {
		http.Redirect(w, r, "/handlers?confirm=restart&name="+url.QueryEscape(name)+"#governor", http.StatusSeeOther)
		return
	}
	if s.gov == nil {
		s.page(w, r, http.StatusConflict, "error", errorView{Title: "No governor", Message: "no governor is configured: the scheduler cannot restart handlers",
			Fix: "start the scheduler with --governor-api (SZ_GOVERNOR_API), or use schedulezero handlers restart " + name})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), governorRestartTimeout)
	defer cancel()
	hi, err := s.gov.Restart(ctx, name)
	if err != nil {
		status, view := governorFailure(name, err)
		s.page(w, r, status, "error", view)
		return
	}
	s.log.Info("dashboard action", "kind", "restart", "handler", name, "pid", hi.PID, "remote", r.RemoteAddr)
	http.Redirect(w, r, "/handlers?done=restart#governor", http.StatusSeeOther)
}

// governorFailure maps an error of the governor to a status and what to
// show: its own answer (an unknown handler is its 404), or 502 when it
// did not answer.
func governorFailure(name string, err error) (int, errorView) {
	var ae *client.APIError
	if errors.As(err, &ae) {
		return ae.Status, errorView{Title: http.StatusText(ae.Status), Message: fmt.Sprintf("governor: restart %q: %s", name, ae.Message), Fix: ae.Fix}
	}
	return http.StatusBadGateway, errorView{Title: "Governor not reachable", Message: "governor not reachable: " + err.Error(),
		Fix: "check that schedulezero-governor runs and that --governor-api names its socket"}
}
