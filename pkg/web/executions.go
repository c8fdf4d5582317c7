package web

import (
	"cmp"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/schedulezero/schedulezero/pkg/store"
)

type executionsView struct {
	Status, Handler, Schedule, Since, Until string
	Statuses                                []string
	Rows                                    []store.Execution
	Limit                                   int
}

var statuses = []string{"pending", "running", "success", "error", "timeout", "interrupted", "cancelled", "missed"}

// sinceParam reads a time filter: a duration back from now ("1h") or a
// time in the dashboard's zone (RFC 3339, "2006-01-02 15:04" or the
// browser's datetime-local "2006-01-02T15:04").
func (s *server) sinceParam(r *http.Request, key string) (time.Time, error) {
	v := trimmed(r, key)
	if v == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(strings.TrimPrefix(v, "-")); err == nil {
		return s.now().Add(-d), nil
	}
	for _, l := range []string{time.RFC3339, "2006-01-02 15:04", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(l, v, s.loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, viewError{status: http.StatusBadRequest, msg: key + ": " + v + " is neither a duration nor a time",
		fix: `use a duration back from now ("1h", "30m") or a time ("2026-01-02 15:04")`}
}

func (s *server) executions(_ http.ResponseWriter, r *http.Request) (string, any, error) {
	v := executionsView{Status: trimmed(r, "status"), Handler: trimmed(r, "handler"), Schedule: trimmed(r, "schedule"),
		Since: trimmed(r, "since"), Until: trimmed(r, "until"), Statuses: statuses, Limit: 100}
	if v.Status != "" && !slices.Contains(statuses, v.Status) {
		return "", nil, viewError{status: http.StatusBadRequest, msg: "status: " + v.Status + " is not a status", fix: "use one of " + strings.Join(statuses, ", ")}
	}
	since, err := s.sinceParam(r, "since")
	if err != nil {
		return "", nil, err
	}
	until, err := s.sinceParam(r, "until")
	if err != nil {
		return "", nil, err
	}
	f := store.ExecutionFilter{Status: store.Status(v.Status), HandlerID: v.Handler, ScheduleID: v.Schedule}
	_, err = s.recentAttempts(r.Context(), f, recentScan, func(e store.Execution) bool {
		at := cmp.Or(e.StartedAt, e.ScheduledAt, e.CompletedAt)
		if (!since.IsZero() && at.Before(since)) || (!until.IsZero() && at.After(until)) {
			return true
		}
		v.Rows = append(v.Rows, e)
		return len(v.Rows) < v.Limit
	})
	if err != nil {
		return "", nil, err
	}
	return "executions", v, nil
}

// attemptView is one attempt with the exec handler's output apart.
type attemptView struct {
	store.Execution
	Result         string
	Stdout, Stderr string
	ExitCode       *int
}

type executionView struct {
	ID         string
	ScheduleID string
	HandlerID  string
	Method     string
	Params     string
	Attempts   []attemptView
	Journal    string
}

func (s *server) execution(_ http.ResponseWriter, r *http.Request) (string, any, error) {
	id := r.PathValue("id")
	atts, err := s.b.Executions(r.Context(), store.ExecutionFilter{ExecutionID: id})
	if err != nil {
		return "", nil, err
	}
	if len(atts) == 0 {
		return "", nil, viewError{status: http.StatusNotFound, msg: "no execution " + id, fix: "pick one from the executions page"}
	}
	slices.SortFunc(atts, func(a, b store.Execution) int { return cmp.Compare(a.Attempt, b.Attempt) })
	v := executionView{ID: id, ScheduleID: atts[0].ScheduleID, HandlerID: atts[0].HandlerID, Method: atts[0].Method,
		Params: atts[0].ParamsSummary, Journal: "journalctl SZ_EXECUTION_ID=" + id}
	for _, e := range atts {
		av := attemptView{Execution: e}
		var out struct {
			ExitCode *int    `json:"exit_code"`
			Stdout   *string `json:"stdout"`
			Stderr   *string `json:"stderr"`
		}
		if json.Unmarshal(e.Result, &out) == nil {
			av.ExitCode = out.ExitCode
			if out.Stdout != nil {
				av.Stdout = *out.Stdout
			}
			if out.Stderr != nil {
				av.Stderr = *out.Stderr
			}
		}
		av.Result = prettyJSON(store.ResultWithoutOutput(e.Result))
		v.Attempts = append(v.Attempts, av)
	}
	return "execution", v, nil
}
