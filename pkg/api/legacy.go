package api

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/schedulezero/schedulezero/pkg/field"
	"github.com/schedulezero/schedulezero/pkg/scheduler/schedtype"
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
	listed := make([]schedtype.HandlerStatus, 0, len(hs))
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
		s.writeErr(w, r, legacyMethodErr(policyError(err), req.HandlerID, req.Method))
		return
	}
	s.writeJSON(w, http.StatusCreated, map[string]string{
		"status": "success", "job_id": sch.ID,
		"message": fmt.Sprintf("Job %s scheduled for %s.%s", sch.ID, sch.HandlerID, sch.Method),
	})
}

func (s *server) decodeSchedule(w http.ResponseWriter, r *http.Request, strict bool) (schedtype.ScheduleRequest, error) {
	body, err := readBody(w, r, s.maxBody)
	if err != nil {
		return schedtype.ScheduleRequest{}, err
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
				return schedtype.ScheduleRequest{}, perr
			}
		}
		return schedtype.ScheduleRequest{}, err
	}
	if !strict {
		if err := missingFields(body); err != nil {
			return schedtype.ScheduleRequest{}, err
		}
	}
	return s.scheduleRequest(b)
}

func (s *server) decodeRun(w http.ResponseWriter, r *http.Request, strict bool) (schedtype.RunRequest, error) {
	body, err := readBody(w, r, s.maxBody)
	if err != nil {
		return schedtype.RunRequest{}, err
	}
	var b RunNowRequest
	if err := decodeJSON(body, &b, strict); err != nil {
		return schedtype.RunRequest{}, err
	}
	if !strict {
		if err := missingFields(body); err != nil {
			return schedtype.RunRequest{}, err
		}
	}
	params, timeout, err := s.checkCall(b.HandlerID, b.Method, b.Params, b.MaxAttempts, b.Timeout)
	if err != nil {
		return schedtype.RunRequest{}, err
	}
	return schedtype.RunRequest{HandlerID: b.HandlerID, Method: b.Method, Params: params, MaxAttempts: b.MaxAttempts, Timeout: timeout}, nil
}

// legacyRunNow answers as the original did: 200 with the handler's reply when
// it succeeded, 500 "Failed to execute job: ..." when the final attempt did
// not (see the package documentation).
func (s *server) legacyRunNow(w http.ResponseWriter, r *http.Request) {
	req, err := s.decodeRun(w, r, false)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	ex, err := s.b.RunNow(r.Context(), req)
	if err != nil {
		s.writeErr(w, r, legacyMethodErr(err, req.HandlerID, req.Method))
		return
	}
	if ex.Status != store.StatusSucceeded {
		reason := cmp.Or(ex.Error, string(ex.Status))
		if ex.Status == store.StatusFailed && len(ex.Result) > 0 {
			reason = "Handler returned error: " + reason // the handler answered success=false
		}
		s.writeJSON(w, http.StatusInternalServerError, ErrorBody{Error: ErrorDetail{
			Code: http.StatusInternalServerError, Message: "Failed to execute job: " + reason}})
		return
	}
	s.writeJSON(w, http.StatusOK, map[string]any{
		"status":       "success",
		"result":       rawOrNull(ex.Result),
		"message":      fmt.Sprintf("Executed %s.%s", req.HandlerID, req.Method),
		"execution_id": ex.ID,
	})
}

// legacyMethodErr words a method the handler does not offer as the original
// did.
func legacyMethodErr(err error, handlerID, method string) error {
	var fe *field.Error
	if errors.As(err, &fe) && fe.Field == "job_method" && method != "" {
		return fieldErr(http.StatusBadRequest, "job_method",
			fmt.Sprintf("Method '%s' not exposed by handler '%s'", method, handlerID), fe.Fix)
	}
	return err
}

// legacyRequired are the keys the original required in the bodies of
// POST /api/schedule and POST /api/run_now.
var legacyRequired = []string{"handler_id", "job_method", "job_params"}

// missingFields is the original's 400 for absent keys, the list written as
// Python prints a list of strings: Missing required fields: ['job_params'].
func missingFields(body []byte) error {
	var keys map[string]json.RawMessage
	if json.Unmarshal(body, &keys) != nil {
		return nil // decodeJSON has judged the body
	}
	var miss []string
	for _, k := range legacyRequired {
		if _, ok := keys[k]; !ok {
			miss = append(miss, "'"+k+"'")
		}
	}
	if len(miss) == 0 {
		return nil
	}
	return fieldErr(http.StatusBadRequest, strings.Trim(miss[0], "'"),
		fmt.Sprintf("Missing required fields: [%s]", strings.Join(miss, ", ")),
		`send "handler_id", "job_method" and "job_params" (an object; {} for none)`)
}

// legacySchedules lists the live schedules: a finished one (a date that
// fired) is gone, as in the original, where APScheduler removed it.
func (s *server) legacyListSchedules(w http.ResponseWriter, r *http.Request) {
	list, err := s.b.ListSchedules(r.Context())
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	type legacySchedule struct {
		ID       string  `json:"id"`
		NextFire *string `json:"next_fire_time"`
		Trigger  string  `json:"trigger"`
		Args     []any   `json:"args"`
	}
	out := make([]legacySchedule, 0, len(list))
	for _, sc := range list {
		if sc.Done {
			continue
		}
		ls := legacySchedule{ID: sc.ID, Trigger: legacyTrigger(sc.Trigger, sc.CreatedAt),
			Args: []any{sc.HandlerID, sc.Method, rawOrEmpty(sc.Params), sc.ID}}
		if !sc.NextFire.IsZero() && !sc.Paused {
			ls.NextFire = legacyTime(sc.NextFire)
		}
		out = append(out, ls)
	}
	s.writeJSON(w, http.StatusOK, map[string]any{"schedules": out, "count": len(out)})
}

func (s *server) legacyDelete(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := s.checkOwner(r.Context(), id, "", false); err != nil {
		s.writeErr(w, r, err)
		return
	}
	if err := s.b.DeleteSchedule(r.Context(), id); err != nil {
		s.writeErr(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, map[string]string{
		"status": "success", "message": fmt.Sprintf("Schedule %s removed", id), "schedule_id": id,
	})
}

// legacyExecutions lists the window's executions, one record each, newest
// first.
func (s *server) legacyExecutions(w http.ResponseWriter, r *http.Request) {
	limit, err := intQuery(r, "limit", legacyExecDefault, legacyExecMax)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	window, _, err := s.legacyWindow(r.Context())
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	q := r.URL.Query()
	recs := legacyFilter(window, q.Get("handler_id"), q.Get("job_id"), q.Get("status"), limit)
	s.writeJSON(w, http.StatusOK, map[string]any{"count": len(recs), "limit": limit, "records": recs})
}

func (s *server) legacyStats(w http.ResponseWriter, r *http.Request) {
	window, full, err := s.legacyWindow(r.Context())
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	body := legacyStats(window)
	if body.LifetimeExecutions, err = s.lifetime(r.Context(), window, full); err != nil {
		s.writeErr(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, body)
}

// legacyErrors lists the window's executions that ended in an error state,
// newest first.
func (s *server) legacyErrors(w http.ResponseWriter, r *http.Request) {
	limit, err := intQuery(r, "limit", legacyErrorsDefault, legacyErrorsMax)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	window, _, err := s.legacyWindow(r.Context())
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	out := []legacyRecord{}
	for _, rec := range window {
		if len(out) < limit && isLegacyError(rec) {
			out = append(out, rec)
		}
	}
	s.writeJSON(w, http.StatusOK, map[string]any{"count": len(out), "limit": limit, "errors": out})
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
