package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/schedulezero/schedulezero/pkg/scheduler/schedtype"
	"github.com/schedulezero/schedulezero/pkg/store"
	"github.com/schedulezero/schedulezero/pkg/version"
)

func (s *server) v1Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v1/health", s.v1Health)
	mux.HandleFunc("GET /api/v1/handlers", s.handlers)
	mux.HandleFunc("DELETE /api/v1/handlers/{id}", s.v1RemoveHandler)
	mux.HandleFunc("GET /api/v1/schedules", s.v1ListSchedules)
	mux.HandleFunc("POST /api/v1/schedules", s.v1CreateSchedule)
	mux.HandleFunc("GET /api/v1/schedules/{id}", s.v1GetSchedule)
	mux.HandleFunc("DELETE /api/v1/schedules/{id}", s.v1DeleteSchedule)
	mux.HandleFunc("POST /api/v1/schedules/{id}/pause", s.v1Pause)
	mux.HandleFunc("POST /api/v1/schedules/{id}/resume", s.v1Resume)
	mux.HandleFunc("PATCH /api/v1/schedules/{id}", s.v1UpdateSchedule)
	mux.HandleFunc("POST /api/v1/schedules/{id}/run", s.v1Trigger)
	mux.HandleFunc("POST /api/v1/schedules/{id}/backfill", s.v1Backfill)
	mux.HandleFunc("GET /api/v1/schedules/{id}/executions", s.v1ScheduleExecutions)
	mux.HandleFunc("GET /api/v1/executions", s.v1Executions)
	mux.HandleFunc("GET /api/v1/executions/{execution_id}", s.v1Execution)
	mux.HandleFunc("GET /api/v1/stats", s.v1Stats)
	mux.HandleFunc("POST /api/v1/run", s.v1Run)
	mux.HandleFunc("GET /api/v1/events", s.events)
}

func (s *server) v1Health(w http.ResponseWriter, _ *http.Request) {
	s.writeJSON(w, http.StatusOK, Health{Status: "ok", Service: "ScheduleZero", Version: version.Version})
}

// Limits of a page of GET /api/v1/schedules.
const v1SchedDefault, v1SchedMax = 100, 1000

// v1ListSchedules serves one page of schedules by id; next_cursor leads to
// the next.
func (s *server) v1ListSchedules(w http.ResponseWriter, r *http.Request) {
	limit, err := intQuery(r, "limit", v1SchedDefault, v1SchedMax)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	after, err := scheduleCursor(r.URL.Query().Get("cursor"))
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	list, more, err := s.b.SchedulePage(r.Context(), after, limit)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	hs, err := s.b.Handlers(r.Context())
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	states := schedtype.States(hs)
	out := ScheduleList{Schedules: make([]Schedule, 0, len(list))}
	for _, sc := range list {
		v := ScheduleFromStore(sc)
		v.HandlerState = handlerState(states, sc.HandlerID)
		out.Schedules = append(out.Schedules, v)
	}
	out.Count = len(out.Schedules)
	if more && len(list) > 0 {
		out.NextCursor = base64.RawURLEncoding.EncodeToString([]byte(list[len(list)-1].ID))
	}
	s.writeJSON(w, http.StatusOK, out)
}

// scheduleCursor reads the cursor of a schedule page: the last id of the
// page before, opaque to the client.
func scheduleCursor(tok string) (string, error) {
	id, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return "", fieldErr(http.StatusBadRequest, "cursor", fmt.Sprintf("%q is not a cursor of this listing", tok),
			"pass the next_cursor of the previous page as it came, or none for the first page")
	}
	return string(id), nil
}

func (s *server) v1CreateSchedule(w http.ResponseWriter, r *http.Request) {
	req, err := s.decodeSchedule(w, r, true)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	if req.Replace && req.ID != "" {
		if err := s.checkOwner(r.Context(), req.ID, req.Source, false); err != nil {
			s.writeErr(w, r, err)
			return
		}
	}
	sch, err := s.b.AddSchedule(r.Context(), req)
	if err != nil {
		s.writeErr(w, r, policyError(err))
		return
	}
	// Escaped: an id stored before the id rule may hold anything.
	w.Header().Set("Location", "/api/v1/schedules/"+url.PathEscape(sch.ID))
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
	hs, err := s.b.Handlers(r.Context())
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	states := schedtype.States(hs)
	v := ScheduleFromStore(sch)
	v.HandlerState = handlerState(states, sch.HandlerID)
	s.writeJSON(w, http.StatusOK, v)
}

func handlerState(states map[string]string, id string) string {
	if st, ok := states[id]; ok && st != "" {
		return st
	}
	return HandlerUnknown
}

func (s *server) v1RemoveHandler(w http.ResponseWriter, r *http.Request) {
	if err := s.b.RemoveHandler(r.Context(), r.PathValue("id")); err != nil {
		s.writeErr(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *server) v1DeleteSchedule(w http.ResponseWriter, r *http.Request) {
	if err := s.checkOwner(r.Context(), r.PathValue("id"), r.URL.Query().Get("source"), detachQuery(r)); err != nil {
		s.writeErr(w, r, err)
		return
	}
	if err := s.b.DeleteSchedule(r.Context(), r.PathValue("id")); err != nil {
		s.writeErr(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *server) v1UpdateSchedule(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	body, err := readBody(w, r, s.maxBody)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	var b UpdateScheduleRequest
	if err := decodeJSON(body, &b, true); err != nil {
		s.writeErr(w, r, err)
		return
	}
	detach := detachQuery(r)
	if err := s.checkOwner(r.Context(), id, ptrOr(b.Source), detach); err != nil {
		s.writeErr(w, r, err)
		return
	}
	if detach && b.Source == nil {
		b.Source = new(string) // detached: the API owns it from now on
	}
	u, err := s.scheduleUpdate(r.Context(), id, b)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	sch, err := s.b.UpdateSchedule(r.Context(), id, u)
	if err != nil {
		s.writeErr(w, r, policyError(err))
		return
	}
	s.writeJSON(w, http.StatusOK, ScheduleFromStore(sch))
}

// scheduleUpdate checks a PATCH body and merges its policy keys into the
// schedule's current policy.
func (s *server) scheduleUpdate(ctx context.Context, id string, b UpdateScheduleRequest) (schedtype.ScheduleUpdate, error) {
	if b.Method == nil && b.Params == nil && b.Trigger == nil && b.Timezone == nil && b.MaxAttempts == nil && b.Timeout == nil && b.Policy == nil && b.Source == nil {
		return schedtype.ScheduleUpdate{}, fieldErr(http.StatusBadRequest, "body", "nothing to change",
			"send at least one of job_method, job_params, trigger, timezone, max_attempts, timeout, policy, source")
	}
	u := schedtype.ScheduleUpdate{Method: b.Method, Timezone: b.Timezone, MaxAttempts: b.MaxAttempts, Source: b.Source}
	if b.Method != nil && strings.TrimSpace(*b.Method) == "" {
		return u, fieldErr(http.StatusBadRequest, "job_method", "job_method is empty", "name one of the handler's methods")
	}
	if b.Params != nil {
		p := bytes.TrimSpace(b.Params)
		switch {
		case bytes.Equal(p, []byte("null")):
			p = []byte("{}")
		case len(p) == 0 || p[0] != '{':
			return u, fieldErr(http.StatusBadRequest, "job_params", "job_params must be a JSON object", `send "job_params": {...}`)
		case len(p) > s.maxParam:
			return u, fieldErr(http.StatusRequestEntityTooLarge, "job_params",
				fmt.Sprintf("job_params is %d bytes, more than the limit of %d bytes", len(p), s.maxParam),
				"pass large data by reference (a path or URL) instead")
		}
		u.Params = p
	}
	if b.Trigger != nil {
		t := bytes.TrimSpace(b.Trigger)
		if len(t) == 0 || t[0] != '{' {
			return u, fieldErr(http.StatusBadRequest, "trigger", "trigger must be a JSON object",
				`send "trigger": {"type":"interval","seconds":10} (types: date, interval, cron, calendar)`)
		}
		u.Trigger = t
	}
	if b.MaxAttempts != nil && *b.MaxAttempts < 0 {
		return u, fieldErr(http.StatusBadRequest, "max_attempts", "max_attempts must not be negative", "use 0 for the scheduler's default, or 1 or more")
	}
	if b.Timeout != nil {
		var d time.Duration
		if *b.Timeout != "" {
			var err error
			d, err = time.ParseDuration(*b.Timeout)
			if err != nil || d < 0 {
				return u, fieldErr(http.StatusBadRequest, "timeout",
					fmt.Sprintf("timeout %q is not a non-negative duration", *b.Timeout), `use a Go duration such as "30s", or "0s" for the default`)
			}
		}
		u.Timeout = &d
	}
	if b.Policy != nil {
		u.Policy = &store.Policy{} // "policy": null resets every key to its default
		if pb := bytes.TrimSpace(b.Policy); !bytes.Equal(pb, []byte("null")) {
			if len(pb) == 0 || pb[0] != '{' {
				return u, fieldErr(http.StatusBadRequest, "policy", "policy must be a JSON object", `send "policy": {"misfire":"all"}`)
			}
			// Check the keys alone first, so that a bad body is a 400
			// whether or not the schedule exists.
			if err := decodePolicy(pb, &Policy{}); err != nil {
				return u, err
			}
			cur, err := s.b.GetSchedule(ctx, id)
			if err != nil {
				return u, err
			}
			p := PolicyFromStore(cur.Policy)
			if p == nil {
				p = &Policy{}
			}
			if err := decodePolicy(pb, p); err != nil {
				return u, err
			}
			sp, err := p.Store()
			if err != nil {
				return u, err
			}
			u.Policy = &sp
		}
	}
	return u, nil
}

// decodePolicy decodes the keys of raw onto p, strictly; keys absent from
// raw keep p's values.
func decodePolicy(raw []byte, p *Policy) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(p); err != nil {
		return prefixHTTP("policy", jsonError(err))
	}
	if _, err := p.Store(); err != nil {
		return err
	}
	return nil
}

// prefixHTTP prefixes the field of a decoding error with parent.
func prefixHTTP(parent string, err error) error {
	var he *httpError
	if errors.As(err, &he) && he.detail.Field != "" && he.detail.Field != "body" {
		c := *he
		c.detail.Field = parent + "." + c.detail.Field
		return &c
	}
	if errors.As(err, &he) && he.detail.Field == "body" {
		c := *he
		c.detail.Field = parent
		return &c
	}
	return err
}

func (s *server) v1Backfill(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	body, err := readBody(w, r, s.maxBody)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	var b BackfillRequest
	if err := decodeJSON(body, &b, true); err != nil {
		s.writeErr(w, r, err)
		return
	}
	from, err := parseTimeField("from", b.From)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	to, err := parseTimeField("to", b.To)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	if to.Before(from) {
		s.writeErr(w, r, fieldErr(http.StatusBadRequest, "to", "to is before from", "give a range with from <= to"))
		return
	}
	res, err := s.b.Backfill(r.Context(), id, from, to)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	res.Occurrences = nonNil(res.Occurrences)
	if res.ScheduleID == "" {
		res.ScheduleID = id
	}
	s.writeJSON(w, http.StatusAccepted, res)
}

func (s *server) v1Trigger(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	force := r.URL.Query().Get("force") == "true"
	e, err := s.b.TriggerSchedule(r.Context(), id, force)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusAccepted, TriggeredFrom(id, e))
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
