package api

import (
	"context"
	"fmt"
	"net/http"
	"slices"

	"github.com/schedulezero/schedulezero/pkg/store"
	"github.com/schedulezero/schedulezero/pkg/version"
)

// Limits of GET /api/v1/executions.
const v1ExecDefault, v1ExecMax = 100, 1000

func (s *server) v1Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v1/health", s.v1Health)
	mux.HandleFunc("GET /api/v1/handlers", s.handlers)
	mux.HandleFunc("GET /api/v1/schedules", s.v1ListSchedules)
	mux.HandleFunc("POST /api/v1/schedules", s.v1CreateSchedule)
	mux.HandleFunc("GET /api/v1/schedules/{id}", s.v1GetSchedule)
	mux.HandleFunc("DELETE /api/v1/schedules/{id}", s.v1DeleteSchedule)
	mux.HandleFunc("POST /api/v1/schedules/{id}/pause", s.v1Pause)
	mux.HandleFunc("POST /api/v1/schedules/{id}/resume", s.v1Resume)
	mux.HandleFunc("POST /api/v1/schedules/{id}/run", s.v1Trigger)
	mux.HandleFunc("GET /api/v1/schedules/{id}/executions", s.v1ScheduleExecutions)
	mux.HandleFunc("GET /api/v1/executions", s.v1Executions)
	mux.HandleFunc("GET /api/v1/executions/{execution_id}", s.v1Execution)
	mux.HandleFunc("GET /api/v1/stats", s.v1Stats)
	mux.HandleFunc("POST /api/v1/run", s.v1Run)
}

func (s *server) v1Health(w http.ResponseWriter, _ *http.Request) {
	s.writeJSON(w, http.StatusOK, Health{Status: "ok", Service: "ScheduleZero", Version: version.Version})
}

func (s *server) v1ListSchedules(w http.ResponseWriter, r *http.Request) {
	list, err := s.b.ListSchedules(r.Context())
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	out := ScheduleList{Schedules: make([]Schedule, 0, len(list))}
	for _, sc := range list {
		out.Schedules = append(out.Schedules, ScheduleFromStore(sc))
	}
	out.Count = len(out.Schedules)
	s.writeJSON(w, http.StatusOK, out)
}

func (s *server) v1CreateSchedule(w http.ResponseWriter, r *http.Request) {
	req, err := s.decodeSchedule(w, r, true)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	sch, err := s.b.AddSchedule(r.Context(), req)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/schedules/"+sch.ID)
	s.writeJSON(w, http.StatusCreated, ScheduleFromStore(sch))
}

func (s *server) v1GetSchedule(w http.ResponseWriter, r *http.Request) {
	s.scheduleOp(w, r, s.b.GetSchedule)
}

func (s *server) v1Pause(w http.ResponseWriter, r *http.Request) {
	s.scheduleOp(w, r, s.b.PauseSchedule)
}

func (s *server) v1Resume(w http.ResponseWriter, r *http.Request) {
	s.scheduleOp(w, r, s.b.ResumeSchedule)
}

func (s *server) scheduleOp(w http.ResponseWriter, r *http.Request, op func(ctx context.Context, id string) (store.Schedule, error)) {
	sch, err := op(r.Context(), r.PathValue("id"))
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, ScheduleFromStore(sch))
}

func (s *server) v1DeleteSchedule(w http.ResponseWriter, r *http.Request) {
	if err := s.b.DeleteSchedule(r.Context(), r.PathValue("id")); err != nil {
		s.writeErr(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *server) v1Trigger(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	force := r.URL.Query().Get("force") == "true"
	eid, err := s.b.TriggerSchedule(r.Context(), id, force)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusAccepted, Triggered{ScheduleID: id, ExecutionID: eid})
}

func (s *server) v1ScheduleExecutions(w http.ResponseWriter, r *http.Request) {
	s.listExecutions(w, r, r.PathValue("id"))
}

func (s *server) v1Executions(w http.ResponseWriter, r *http.Request) {
	s.listExecutions(w, r, r.URL.Query().Get("schedule_id"))
}

func (s *server) listExecutions(w http.ResponseWriter, r *http.Request, scheduleID string) {
	limit, err := intQuery(r, "limit", v1ExecDefault, v1ExecMax)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	q := r.URL.Query()
	st := store.Status(q.Get("status"))
	if st != "" && !knownStatus(st) {
		s.writeErr(w, r, fieldErr(http.StatusBadRequest, "status", fmt.Sprintf("unknown status %q", st),
			"use one of pending, running, success, error, timeout, interrupted, cancelled, missed"))
		return
	}
	recs, err := s.b.Executions(r.Context(), store.ExecutionFilter{
		ScheduleID: scheduleID, HandlerID: q.Get("handler_id"), Status: st, Limit: limit,
	})
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	recs = nonNil(recs)
	s.writeJSON(w, http.StatusOK, ExecutionList{Executions: recs, Count: len(recs)})
}

func knownStatus(st store.Status) bool {
	return slices.Contains([]store.Status{store.StatusPending, store.StatusRunning, store.StatusSucceeded,
		store.StatusFailed, store.StatusTimedOut, store.StatusInterrupted, store.StatusCancelled, store.StatusMissed}, st)
}

func (s *server) v1Execution(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("execution_id")
	recs, err := s.b.Executions(r.Context(), store.ExecutionFilter{ExecutionID: id})
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	if len(recs) == 0 {
		s.writeErr(w, r, fmt.Errorf("execution %q: %w", id, store.ErrNotFound))
		return
	}
	slices.SortFunc(recs, func(a, b store.Execution) int { return a.Attempt - b.Attempt })
	s.writeJSON(w, http.StatusOK, ExecutionAttempts{ExecutionID: id, Attempts: recs})
}

func (s *server) v1Stats(w http.ResponseWriter, r *http.Request) {
	st, err := s.b.Stats(r.Context())
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	st.ByStatus = nonNilMap(st.ByStatus)
	st.ByHandler = nonNilMap(st.ByHandler)
	s.writeJSON(w, http.StatusOK, Stats{Stats: st, SuccessRate: successRate(st)})
}

func (s *server) v1Run(w http.ResponseWriter, r *http.Request) {
	req, err := s.decodeRun(w, r, true)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	ex, err := s.b.RunNow(r.Context(), req)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, ex)
}
