package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/schedulezero/schedulezero/pkg/scheduler/schedtype"
)

// readBody reads the whole request body, refusing more than limit bytes.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, fieldErr(http.StatusRequestEntityTooLarge, "body",
				fmt.Sprintf("request body is larger than %d bytes", limit),
				"send a smaller body")
		}
		return nil, fieldErr(http.StatusBadRequest, "body", "reading request body: "+err.Error(), "")
	}
	return body, nil
}

// decodeJSON decodes body into v. strict rejects unknown top-level keys.
// Every failure is a 400 naming the field (or "body" with the byte offset).
func decodeJSON(body []byte, v any, strict bool) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return fieldErr(http.StatusBadRequest, "body", "request body is empty", "send a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fieldErr(http.StatusBadRequest, "body",
			fmt.Sprintf("unexpected data after the JSON object at byte %d", dec.InputOffset()),
			"send exactly one JSON object")
	}
	return nil
}

func jsonError(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fieldErr(http.StatusBadRequest, "body",
			fmt.Sprintf("malformed JSON at byte offset %d: %v", max(se.Offset-1, 0), se), "send a valid JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fieldErr(http.StatusBadRequest, "body", "malformed JSON: unexpected end of input", "send a complete JSON object")
	case errors.As(err, &te):
		if te.Field == "" {
			return fieldErr(http.StatusBadRequest, "body",
				fmt.Sprintf("expected a JSON object, got %s", te.Value), "send a JSON object")
		}
		return fieldErr(http.StatusBadRequest, te.Field,
			fmt.Sprintf("%s must be %s, got %s", te.Field, jsonKind(te.Type.String()), te.Value), "")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name, _ := strconv.Unquote(strings.TrimPrefix(err.Error(), "json: unknown field "))
		return fieldErr(http.StatusBadRequest, name,
			fmt.Sprintf("unknown field %q", name), "remove it; see the API documentation for accepted fields")
	}
	return fieldErr(http.StatusBadRequest, "body", "invalid JSON: "+err.Error(), "send a valid JSON object")
}

func jsonKind(goType string) string {
	switch goType {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "int", "int64", "float64":
		return "a number"
	}
	return "a " + goType
}

// CreateScheduleRequest is the body of POST /api/v1/schedules and of the
// original POST /api/schedule. The original called the id job_id; both are
// accepted. Timeout is a Go duration string ("30s").
type CreateScheduleRequest struct {
	ID          string          `json:"id,omitempty"`
	JobID       string          `json:"job_id,omitempty"`
	HandlerID   string          `json:"handler_id"`
	Method      string          `json:"job_method"`
	Params      json.RawMessage `json:"job_params,omitempty"`
	Trigger     json.RawMessage `json:"trigger"`
	Timezone    string          `json:"timezone,omitempty"`
	MaxAttempts int             `json:"max_attempts,omitempty"`
	Timeout     string          `json:"timeout,omitempty"`
	Replace     bool            `json:"replace,omitempty"`
	Policy      *Policy         `json:"policy,omitempty"`
	Source      string          `json:"source,omitempty"` // "file:<path>": a schedule file manages it
}

// RunNowRequest is the body of POST /api/v1/run and POST /api/run_now.
type RunNowRequest struct {
	HandlerID   string          `json:"handler_id"`
	Method      string          `json:"job_method"`
	Params      json.RawMessage `json:"job_params,omitempty"`
	MaxAttempts int             `json:"max_attempts,omitempty"`
	Timeout     string          `json:"timeout,omitempty"`
}

// checkCall validates the fields shared by schedules and runs and returns the
// normalized params and timeout.
func (s *server) checkCall(handlerID, method string, params json.RawMessage, maxAttempts int, timeout string) (json.RawMessage, time.Duration, error) {
	if strings.TrimSpace(handlerID) == "" {
		return nil, 0, fieldErr(http.StatusBadRequest, "handler_id", "handler_id is required", `set "handler_id" to a registered handler (GET /api/v1/handlers)`)
	}
	if strings.TrimSpace(method) == "" {
		return nil, 0, fieldErr(http.StatusBadRequest, "job_method", "job_method is required", `set "job_method" to one of the handler's methods`)
	}
	p := bytes.TrimSpace(params)
	switch {
	case len(p) == 0 || bytes.Equal(p, []byte("null")):
		p = nil
	case p[0] != '{':
		return nil, 0, fieldErr(http.StatusBadRequest, "job_params", "job_params must be a JSON object", `send "job_params": {...}`)
	case len(p) > s.maxParam:
		return nil, 0, fieldErr(http.StatusRequestEntityTooLarge, "job_params",
			fmt.Sprintf("job_params is %d bytes, more than the limit of %d bytes", len(p), s.maxParam),
			"pass large data by reference (a path or URL) instead")
	}
	if maxAttempts < 0 {
		return nil, 0, fieldErr(http.StatusBadRequest, "max_attempts", "max_attempts must not be negative", "use 0 for the scheduler's default, or 1 or more")
	}
	var d time.Duration
	if timeout != "" {
		var err error
		d, err = time.ParseDuration(timeout)
		if err != nil || d < 0 {
			return nil, 0, fieldErr(http.StatusBadRequest, "timeout",
				fmt.Sprintf("timeout %q is not a non-negative duration", timeout), `use a Go duration such as "30s" or "5m"`)
		}
	}
	return p, d, nil
}

func (s *server) scheduleRequest(b CreateScheduleRequest) (schedtype.ScheduleRequest, error) {
	params, timeout, err := s.checkCall(b.HandlerID, b.Method, b.Params, b.MaxAttempts, b.Timeout)
	if err != nil {
		return schedtype.ScheduleRequest{}, err
	}
	trig := bytes.TrimSpace(b.Trigger)
	if len(trig) == 0 || bytes.Equal(trig, []byte("null")) {
		return schedtype.ScheduleRequest{}, fieldErr(http.StatusBadRequest, "trigger", "trigger is required",
			`send "trigger": {"type":"interval","seconds":10} (types: date, interval, cron, calendar)`)
	}
	if trig[0] != '{' {
		return schedtype.ScheduleRequest{}, fieldErr(http.StatusBadRequest, "trigger", "trigger must be a JSON object",
			`send "trigger": {"type":"interval","seconds":10} (types: date, interval, cron, calendar)`)
	}
	trig = lowerType(trig)
	id := b.ID
	if id == "" {
		id = b.JobID
	} else if b.JobID != "" && b.JobID != b.ID {
		return schedtype.ScheduleRequest{}, fieldErr(http.StatusBadRequest, "job_id", "id and job_id differ", "send only one of them")
	}
	pol, err := b.Policy.Store()
	if err != nil {
		return schedtype.ScheduleRequest{}, err
	}
	return schedtype.ScheduleRequest{
		Policy: pol,
		ID:     id, HandlerID: b.HandlerID, Method: b.Method, Params: params, Trigger: trig,
		Timezone: b.Timezone, MaxAttempts: b.MaxAttempts, Timeout: timeout, Replace: b.Replace, Source: b.Source,
	}, nil
}

// intQuery reads an integer query parameter: def when absent, clamped to max.
func intQuery(r *http.Request, name string, def, maxVal int) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, fieldErr(http.StatusBadRequest, name, fmt.Sprintf("%s %q is not a positive integer", name, v), fmt.Sprintf("use 1 to %d", maxVal))
	}
	return min(n, maxVal), nil
}

// timeQuery reads an RFC 3339 time parameter; zero when absent.
func timeQuery(r *http.Request, name string) (time.Time, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, fieldErr(http.StatusBadRequest, name, fmt.Sprintf("%s %q is not an RFC 3339 time", name, v), "use e.g. 2026-01-02T15:04:05Z")
	}
	return t, nil
}

// lowerType lower-cases the trigger's "type", as the original did before
// checking it ("Interval" works). Anything else is left for the trigger
// parser to judge.
func lowerType(trig json.RawMessage) json.RawMessage {
	var obj map[string]json.RawMessage
	var typ string
	if json.Unmarshal(trig, &obj) != nil || json.Unmarshal(obj["type"], &typ) != nil || typ == strings.ToLower(typ) {
		return trig
	}
	obj["type"], _ = json.Marshal(strings.ToLower(typ))
	out, err := json.Marshal(obj)
	if err != nil {
		return trig
	}
	return out
}
