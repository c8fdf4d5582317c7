package api

// The read side of /api/v1 for executions: the filtered, paged list, one
// execution's attempts, and the stats.

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"

	"github.com/schedulezero/schedulezero/pkg/store"
)

// Limits of GET /api/v1/executions; with since or until, the newest
// v1ExecScan matching records are searched.
const v1ExecDefault, v1ExecMax, v1ExecScan = 100, 1000, 10000

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
	since, err := timeQuery(r, "since")
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	until, err := timeQuery(r, "until")
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	f := store.ExecutionFilter{ScheduleID: scheduleID, HandlerID: q.Get("handler_id"), Status: st, Limit: limit, Cursor: q.Get("cursor")}
	if since.IsZero() && until.IsZero() {
		page, err := s.b.ExecutionPage(r.Context(), f)
		if err != nil {
			s.writeErr(w, r, err)
			return
		}
		recs := nonNil(page.Executions)
		s.writeJSON(w, http.StatusOK, ExecutionList{Executions: recs, Count: len(recs), NextCursor: page.Next})
		return
	}
	// The store has no time index: the window is cut from the newest
	// v1ExecScan records that match the other filters.
	f.Limit, f.Cursor = v1ExecScan, ""
	recs, err := s.b.Executions(r.Context(), f)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	recs = slices.DeleteFunc(recs, func(e store.Execution) bool {
		t := cmp.Or(e.StartedAt, e.ScheduledAt, e.CompletedAt)
		return (!since.IsZero() && t.Before(since)) || (!until.IsZero() && t.After(until))
	})
	recs = nonNil(recs[:min(len(recs), limit)])
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
	// Missed counts occurrences, as each schedule's missed_count does (a
	// record of skips counts many): the schedules are its source.
	missed, err := s.b.MissedCount(r.Context())
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, Stats{Stats: st, Missed: missed, SuccessRate: successRate(st)})
}
