package api

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/schedulezero/schedulezero/pkg/store"
)

// Limits of the original's history endpoints.
const (
	legacyExecDefault, legacyExecMax     = 100, 1000
	legacyErrorsDefault, legacyErrorsMax = 50, 500
)

// legacyRoutes registers the original Python ScheduleZero endpoints with
// their original response shapes.
func (s *server) legacyRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/health", s.health)
	mux.HandleFunc("GET /api/handlers", s.handlers)
	mux.HandleFunc("POST /api/schedule", s.legacySchedule)
	mux.HandleFunc("POST /api/run_now", s.legacyRunNow)
	mux.HandleFunc("GET /api/schedules", s.legacyListSchedules)
	mux.HandleFunc("DELETE /api/schedules/{id}", s.legacyDelete)
	mux.HandleFunc("GET /api/executions", s.legacyExecutions)
	mux.HandleFunc("GET /api/executions/stats", s.legacyStats)
	mux.HandleFunc("GET /api/executions/errors", s.legacyErrors)
	mux.HandleFunc("POST /api/executions/clear", s.legacyClear)
}

func (s *server) health(w http.ResponseWriter, _ *http.Request) {
	s.writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "service": "ScheduleZero"})
}

func (s *server) handlers(w http.ResponseWriter, r *http.Request) {
	hs, err := s.b.Handlers(r.Context())
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	listed := make([]HandlerStatus, 0, len(hs))
	for _, h := range hs {
		if h.Status != HandlerRemoved {
			listed = append(listed, h)
		}
	}
	s.writeJSON(w, http.StatusOK, HandlerList{Handlers: listed})
}

func (s *server) legacySchedule(w http.ResponseWriter, r *http.Request) {
	req, err := s.decodeSchedule(w, r, false)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	sch, err := s.b.AddSchedule(r.Context(), req)
	if err != nil {
		s.writeErr(w, r, policyError(err))
		return
	}
	s.writeJSON(w, http.StatusCreated, map[string]string{
		"status": "success", "job_id": sch.ID,
		"message": fmt.Sprintf("Job %s scheduled for %s.%s", sch.ID, sch.HandlerID, sch.Method),
	})
}

func (s *server) decodeSchedule(w http.ResponseWriter, r *http.Request, strict bool) (ScheduleRequest, error) {
	body, err := readBody(w, r, s.maxBody)
	if err != nil {
		return ScheduleRequest{}, err
	}
	var b CreateScheduleRequest
	if err := decodeJSON(body, &b, strict); err != nil {
		// encoding/json names an unknown key without its path: when it
		// is inside "policy", say so.
		var he *httpError
		var raw struct {
			Policy json.RawMessage `json:"policy"`
		}
		if strict && errors.As(err, &he) && strings.HasPrefix(he.detail.Message, "unknown field") &&
			json.Unmarshal(body, &raw) == nil && len(raw.Policy) > 0 && raw.Policy[0] == '{' {
			if perr := decodePolicy(raw.Policy, &Policy{}); perr != nil {
				return ScheduleRequest{}, perr
			}
		}
		return ScheduleRequest{}, err
	}
	return s.scheduleRequest(b)
}

func (s *server) decodeRun(w http.ResponseWriter, r *http.Request, strict bool) (RunRequest, error) {
	body, err := readBody(w, r, s.maxBody)
	if err != nil {
		return RunRequest{}, err
	}
	var b RunNowRequest
	if err := decodeJSON(body, &b, strict); err != nil {
		return RunRequest{}, err
	}
	params, timeout, err := s.checkCall(b.HandlerID, b.Method, b.Params, b.MaxAttempts, b.Timeout)
	if err != nil {
		return RunRequest{}, err
	}
	return RunRequest{HandlerID: b.HandlerID, Method: b.Method, Params: params, MaxAttempts: b.MaxAttempts, Timeout: timeout}, nil
}

// legacyRunNow answers 200 for every finished call; "status" says whether the
// handler succeeded (see the package documentation).
func (s *server) legacyRunNow(w http.ResponseWriter, r *http.Request) {
	req, err := s.decodeRun(w, r, false)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	ex, err := s.b.RunNow(r.Context(), req)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	resp := map[string]any{
		"status":       "success",
		"result":       rawOrNull(ex.Result),
		"message":      fmt.Sprintf("Executed %s.%s", req.HandlerID, req.Method),
		"execution_id": ex.ID,
	}
	if ex.Status != store.StatusSucceeded {
		resp["status"] = "error"
		resp["error"] = cmp.Or(ex.Error, string(ex.Status))
		resp["message"] = fmt.Sprintf("%s.%s failed: %s", req.HandlerID, req.Method, resp["error"])
	}
	s.writeJSON(w, http.StatusOK, resp)
}

func (s *server) legacyListSchedules(w http.ResponseWriter, r *http.Request) {
	list, err := s.b.ListSchedules(r.Context())
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	type legacySchedule struct {
		ID       string          `json:"id"`
		NextFire *string         `json:"next_fire_time"`
		Trigger  json.RawMessage `json:"trigger"`
		Args     []any           `json:"args"`
	}
	out := make([]legacySchedule, 0, len(list))
	for _, sc := range list {
		ls := legacySchedule{ID: sc.ID, Trigger: rawOrNull(sc.Trigger), Args: []any{sc.HandlerID, sc.Method, rawOrEmpty(sc.Params)}}
		if !sc.NextFire.IsZero() && !sc.Paused {
			t := sc.NextFire.Format("2006-01-02T15:04:05.999999Z07:00")
			ls.NextFire = &t
		}
		out = append(out, ls)
	}
	s.writeJSON(w, http.StatusOK, map[string]any{"schedules": out, "count": len(out)})
}

func (s *server) legacyDelete(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := s.b.DeleteSchedule(r.Context(), id); err != nil {
		s.writeErr(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, map[string]string{
		"status": "success", "message": fmt.Sprintf("Schedule %s removed", id), "schedule_id": id,
	})
}

func (s *server) legacyExecutions(w http.ResponseWriter, r *http.Request) {
	limit, err := intQuery(r, "limit", legacyExecDefault, legacyExecMax)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	q := r.URL.Query()
	recs, err := s.b.Executions(r.Context(), store.ExecutionFilter{
		HandlerID: q.Get("handler_id"), ScheduleID: q.Get("job_id"), Status: store.Status(q.Get("status")), Limit: limit,
	})
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	recs = nonNil(recs)
	s.writeJSON(w, http.StatusOK, map[string]any{"count": len(recs), "limit": limit, "records": recs})
}

// legacyStatsBody is the original's stats shape.
type legacyStatsBody struct {
	TotalExecutions int64                         `json:"total_executions"`
	SuccessCount    int64                         `json:"success_count"`
	ErrorCount      int64                         `json:"error_count"`
	SuccessRate     float64                       `json:"success_rate"`
	AvgDurationMS   float64                       `json:"avg_duration_ms"`
	ByHandler       map[string]store.HandlerStats `json:"by_handler"`
	ByStatus        map[store.Status]int64        `json:"by_status"`
}

func (s *server) legacyStats(w http.ResponseWriter, r *http.Request) {
	st, err := s.b.Stats(r.Context())
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	ok := st.ByStatus[store.StatusSucceeded]
	body := legacyStatsBody{
		TotalExecutions: st.Total, SuccessCount: ok, ErrorCount: st.Total - ok,
		SuccessRate: successRate(st), AvgDurationMS: st.AvgDurationMS,
		ByHandler: nonNilMap(st.ByHandler), ByStatus: nonNilMap(st.ByStatus),
	}
	s.writeJSON(w, http.StatusOK, body)
}

// errorStatuses are the finished states the original reported as errors.
var errorStatuses = []store.Status{store.StatusFailed, store.StatusTimedOut, store.StatusInterrupted, store.StatusCancelled, store.StatusMissed}

func (s *server) legacyErrors(w http.ResponseWriter, r *http.Request) {
	limit, err := intQuery(r, "limit", legacyErrorsDefault, legacyErrorsMax)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	var all []store.Execution
	for _, st := range errorStatuses {
		recs, err := s.b.Executions(r.Context(), store.ExecutionFilter{Status: st, Limit: limit})
		if err != nil {
			s.writeErr(w, r, err)
			return
		}
		all = append(all, recs...)
	}
	slices.SortStableFunc(all, func(a, b store.Execution) int { return newestFirst(a, b) })
	if len(all) > limit {
		all = all[:limit]
	}
	all = nonNil(all)
	s.writeJSON(w, http.StatusOK, map[string]any{"count": len(all), "limit": limit, "errors": all})
}

func newestFirst(a, b store.Execution) int {
	ta, tb := cmp.Or(a.StartedAt, a.ScheduledAt), cmp.Or(b.StartedAt, b.ScheduledAt)
	if c := tb.Compare(ta); c != 0 {
		return c
	}
	return cmp.Compare(b.ID, a.ID)
}

func (s *server) legacyClear(w http.ResponseWriter, r *http.Request) {
	if err := s.b.ClearExecutions(r.Context()); err != nil {
		s.writeErr(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, map[string]string{"status": "success", "message": "Execution history cleared"})
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func nonNilMap[K comparable, V any](m map[K]V) map[K]V {
	if m == nil {
		return map[K]V{}
	}
	return m
}

func rawOrNull(r json.RawMessage) json.RawMessage {
	if len(r) == 0 {
		return json.RawMessage("null")
	}
	return r
}

func rawOrEmpty(r json.RawMessage) json.RawMessage {
	if len(r) == 0 {
		return json.RawMessage("{}")
	}
	return r
}
