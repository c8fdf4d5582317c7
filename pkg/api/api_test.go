package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/schedulezero/schedulezero/pkg/api"
	"github.com/schedulezero/schedulezero/pkg/store"
	"github.com/schedulezero/schedulezero/pkg/wire"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestAPI_OriginalShapes pins the response shapes of the original's
// endpoints (and a few v1 ones) against golden files.
func TestAPI_OriginalShapes(t *testing.T) {
	tests := []struct {
		name         string
		method, path string
		body         string
		seed         bool
		want         int
	}{
		{"health", "GET", "/api/health", "", false, 200},
		{"handlers", "GET", "/api/handlers", "", false, 200},
		{"schedule_created", "POST", "/api/schedule", `{"handler_id":"dingaling","job_method":"quick_aling","job_params":{},"trigger":{"type":"interval","seconds":2}}`, false, 201},
		{"run_now_success", "POST", "/api/run_now", `{"handler_id":"dingaling","job_method":"ping","job_params":{}}`, false, 200},
		{"schedules", "GET", "/api/schedules", "", true, 200},
		{"schedules_empty", "GET", "/api/schedules", "", false, 200},
		{"delete", "DELETE", "/api/schedules/counter", "", true, 200},
		{"executions", "GET", "/api/executions?limit=2", "", true, 200},
		{"executions_empty", "GET", "/api/executions", "", false, 200},
		{"stats", "GET", "/api/executions/stats", "", true, 200},
		{"stats_empty", "GET", "/api/executions/stats", "", false, 200},
		{"errors", "GET", "/api/executions/errors", "", true, 200},
		{"clear", "POST", "/api/executions/clear", "", true, 200},
		{"v1_health", "GET", "/api/v1/health", "", false, 200},
		{"v1_schedules", "GET", "/api/v1/schedules", "", true, 200},
		{"v1_create", "POST", "/api/v1/schedules", `{"id":"q","handler_id":"dingaling","job_method":"quick_aling","job_params":{"a":1},"trigger":{"type":"cron","expr":"*/5 * * * * *"},"timezone":"UTC","max_attempts":3,"timeout":"30s"}`, false, 201},
		{"v1_execution", "GET", "/api/v1/executions/ex-9000", "", true, 200},
		{"v1_stats", "GET", "/api/v1/stats", "", true, 200},
		{"v1_run", "POST", "/api/v1/run", `{"handler_id":"dingaling","job_method":"ping"}`, false, 200},
		{"v1_trigger", "POST", "/api/v1/schedules/counter/run", "", true, 202},
		{"v1_pause", "POST", "/api/v1/schedules/counter/pause", "", true, 200},
		{"v1_create_policy", "POST", "/api/v1/schedules", `{"id":"p","handler_id":"dingaling","job_method":"ping","trigger":{"type":"interval","minutes":5},"policy":` + fullPolicy + `}`, false, 201},
		{"v1_patch", "PATCH", "/api/v1/schedules/counter", `{"job_method":"ping","job_params":{"b":2},"trigger":{"type":"cron","expr":"0 3 * * *"},"timezone":"Europe/Berlin","max_attempts":5,"timeout":"1m","policy":{"misfire":"all","misfire_limit":3,"grace_time":"30s"}}`, true, 200},
		{"v1_backfill", "POST", "/api/v1/schedules/counter/backfill", `{"from":"2026-01-02T03:04:05Z","to":"2026-01-02T03:04:14Z"}`, true, 202},
		{"v1_trigger_force", "POST", "/api/v1/schedules/counter/run?force=true", "", true, 202},
		{"legacy_create_policy", "POST", "/api/schedule", `{"job_id":"lp","handler_id":"dingaling","job_method":"ping","job_params":{},"trigger":{"type":"interval","seconds":2},"policy":{"overlap":"queue","queue_limit":2,"colour":"red"}}`, false, 201},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tb := setup(t, api.Options{})
			if tc.seed {
				seed(t, tb)
			}
			code, body := tb.do(t, tc.method, tc.path, tc.body)
			if code != tc.want {
				t.Fatalf("status %d, want %d: %s", code, tc.want, body)
			}
			golden(t, tc.name, body)
		})
	}
}

// TestAPI_RunNow_HandlerFailureIs500 pins the original's answer to a handler
// that replied success=false: 500 "Failed to execute job: ...".
func TestAPI_RunNow_HandlerFailureIs500(t *testing.T) {
	tb := setup(t, api.Options{})
	tb.b.SetRunFunc(func(context.Context, string, string, json.RawMessage) (json.RawMessage, error) {
		return json.RawMessage(`{"success":false,"error":"no bell"}`), nil
	})
	code, body := tb.do(t, "POST", "/api/run_now", `{"handler_id":"dingaling","job_method":"ping","job_params":{}}`)
	if code != 500 {
		t.Fatalf("status %d: %s", code, body)
	}
	golden(t, "run_now_error", body)
}

// fullPolicy sets every policy key.
const fullPolicy = `{"misfire":"all","misfire_limit":5,"grace_time":"30s","overlap":"queue","queue_limit":3,"random_delay":"5m","random_offset":"1h","max_runs":10,"backoff":"1s","backoff_max":"5m","retry_on":["error","timeout"]}`

// TestAPI_Errors covers every error path: status, field and the envelope.
func TestAPI_Errors(t *testing.T) {
	const ok = `"handler_id":"dingaling","job_method":"quick_aling","job_params":{},"trigger":{"type":"interval","seconds":2}`
	tests := []struct {
		name         string
		opts         api.Options
		prep         func(*testing.T, *testBundle)
		method, path string
		body         string
		hdr          []string
		want         int
		field        string
		msg          string // substring of the message
	}{
		{name: "malformed json", method: "POST", path: "/api/v1/schedules", body: `{"handler_id":`, want: 400, field: "body", msg: "unexpected end"},
		{name: "syntax error offset", method: "POST", path: "/api/v1/schedules", body: `{"handler_id": x}`, want: 400, field: "body", msg: "byte offset 15"},
		{name: "empty body", method: "POST", path: "/api/v1/schedules", body: ``, want: 400, field: "body"},
		{name: "not an object", method: "POST", path: "/api/v1/schedules", body: `[1]`, want: 400, field: "body"},
		{name: "trailing data", method: "POST", path: "/api/v1/schedules", body: `{` + ok + `} {}`, want: 400, field: "body"},
		{name: "unknown key v1", method: "POST", path: "/api/v1/schedules", body: `{` + ok + `,"colour":1}`, want: 400, field: "colour"},
		{name: "wrong type", method: "POST", path: "/api/v1/schedules", body: `{` + ok + `,"max_attempts":"x"}`, want: 400, field: "max_attempts"},
		{name: "wrong type handler", method: "POST", path: "/api/v1/schedules", body: `{"handler_id":5}`, want: 400, field: "handler_id"},
		{name: "params not object", method: "POST", path: "/api/v1/schedules", body: `{` + ok + `,"job_params":[1]}`, want: 400, field: "job_params"},
		{name: "params too large", opts: api.Options{MaxParamsBytes: 16}, method: "POST", path: "/api/v1/schedules", body: `{` + ok + `,"job_params":{"a":"0123456789abcdef"}}`, want: 413, field: "job_params", msg: "16 bytes"},
		{name: "body too large", opts: api.Options{MaxBodyBytes: 32}, method: "POST", path: "/api/v1/schedules", body: `{` + ok + `}`, want: 413, field: "body"},
		{name: "missing handler", method: "POST", path: "/api/v1/schedules", body: `{"job_method":"x","trigger":{"type":"interval","seconds":1}}`, want: 400, field: "handler_id"},
		{name: "missing method", method: "POST", path: "/api/schedule", body: `{"handler_id":"dingaling","trigger":{"type":"interval","seconds":1}}`, want: 400, field: "job_method"},
		{name: "missing trigger", method: "POST", path: "/api/schedule", body: `{"handler_id":"dingaling","job_method":"ping","job_params":{}}`, want: 400, field: "trigger"},
		{name: "trigger not object", method: "POST", path: "/api/schedule", body: `{"handler_id":"dingaling","job_method":"ping","job_params":{},"trigger":"daily"}`, want: 400, field: "trigger"},
		{name: "bad trigger type", method: "POST", path: "/api/schedule", body: `{"handler_id":"dingaling","job_method":"ping","job_params":{},"trigger":{"type":"weekly"}}`, want: 400, field: "trigger.type", msg: "Unsupported trigger type"},
		{name: "bad timeout", method: "POST", path: "/api/v1/schedules", body: `{` + ok + `,"timeout":"soon"}`, want: 400, field: "timeout"},
		{name: "negative attempts", method: "POST", path: "/api/v1/schedules", body: `{` + ok + `,"max_attempts":-1}`, want: 400, field: "max_attempts"},
		{name: "id and job_id differ", method: "POST", path: "/api/v1/schedules", body: `{` + ok + `,"id":"a","job_id":"b"}`, want: 400, field: "job_id"},
		{name: "unknown method", method: "POST", path: "/api/schedule", body: `{"handler_id":"dingaling","job_method":"nope","job_params":{},"trigger":{"type":"interval","seconds":1}}`, want: 400, field: "job_method"},
		{name: "unknown handler", method: "POST", path: "/api/schedule", body: `{"handler_id":"ghost","job_method":"ping","job_params":{},"trigger":{"type":"interval","seconds":1}}`, want: 404},
		{name: "duplicate job_id", prep: func(t *testing.T, tb *testBundle) { seed(t, tb) }, method: "POST", path: "/api/schedule", body: `{` + ok + `,"job_id":"counter"}`, want: 409},
		{name: "delete unknown legacy", method: "DELETE", path: "/api/schedules/ghost", want: 404},
		{name: "delete unknown v1", method: "DELETE", path: "/api/v1/schedules/ghost", want: 404},
		{name: "get unknown", method: "GET", path: "/api/v1/schedules/ghost", want: 404},
		{name: "pause unknown", method: "POST", path: "/api/v1/schedules/ghost/pause", want: 404},
		{name: "resume unknown", method: "POST", path: "/api/v1/schedules/ghost/resume", want: 404},
		{name: "run unknown", method: "POST", path: "/api/v1/schedules/ghost/run", want: 404},
		{name: "execution unknown", method: "GET", path: "/api/v1/executions/ghost", want: 404},
		{name: "bad limit", method: "GET", path: "/api/executions?limit=abc", want: 400, field: "limit"},
		{name: "zero limit", method: "GET", path: "/api/executions/errors?limit=0", want: 400, field: "limit"},
		{name: "bad status", method: "GET", path: "/api/v1/executions?status=weird", want: 400, field: "status"},
		{name: "run_now unknown handler", method: "POST", path: "/api/run_now", body: `{"handler_id":"ghost","job_method":"ping","job_params":{}}`, want: 404},
		{name: "run unknown key", method: "POST", path: "/api/v1/run", body: `{"handler_id":"dingaling","job_method":"ping","x":1}`, want: 400, field: "x"},
		{name: "unavailable", prep: func(t *testing.T, tb *testBundle) {
			tb.b.Fail("RunNow", fmt.Errorf("handler dingaling: %w", wire.ErrUnavailable))
		}, method: "POST", path: "/api/run_now", body: `{"handler_id":"dingaling","job_method":"ping","job_params":{}}`, want: 503},
		{name: "wire timeout", prep: func(t *testing.T, tb *testBundle) { tb.b.Fail("RunNow", fmt.Errorf("job: %w", wire.ErrTimeout)) }, method: "POST", path: "/api/v1/run", body: `{"handler_id":"dingaling","job_method":"ping"}`, want: 504},
		{name: "deadline", prep: func(t *testing.T, tb *testBundle) { tb.b.Fail("Stats", context.DeadlineExceeded) }, method: "GET", path: "/api/v1/stats", want: 504},
		{name: "internal hidden", prep: func(t *testing.T, tb *testBundle) { tb.b.Fail("ListSchedules", errors.New("disk on fire")) }, method: "GET", path: "/api/schedules", want: 500, msg: "internal error"},
		{name: "exists from backend", prep: func(t *testing.T, tb *testBundle) { tb.b.Fail("AddSchedule", store.ErrExists) }, method: "POST", path: "/api/v1/schedules", body: `{` + ok + `}`, want: 409},
		{name: "policy bad misfire", method: "POST", path: "/api/v1/schedules", body: `{` + ok + `,"policy":{"misfire":"sometimes"}}`, want: 400, field: "policy.misfire", msg: "once"},
		{name: "policy bad misfire legacy", method: "POST", path: "/api/schedule", body: `{` + ok + `,"policy":{"overlap":"never"}}`, want: 400, field: "policy.overlap", msg: "replace"},
		{name: "policy bad duration", method: "POST", path: "/api/v1/schedules", body: `{` + ok + `,"policy":{"grace_time":"soon"}}`, want: 400, field: "policy.grace_time", msg: "duration"},
		{name: "policy negative", method: "POST", path: "/api/v1/schedules", body: `{` + ok + `,"policy":{"random_delay":"-1s"}}`, want: 400, field: "policy.random_delay"},
		{name: "policy bad retry_on", method: "POST", path: "/api/v1/schedules", body: `{` + ok + `,"policy":{"retry_on":["error","always"]}}`, want: 400, field: "policy.retry_on", msg: "unavailable"},
		{name: "policy wrong type", method: "POST", path: "/api/v1/schedules", body: `{` + ok + `,"policy":{"max_runs":"ten"}}`, want: 400, field: "policy.max_runs"},
		{name: "policy unknown key", method: "POST", path: "/api/v1/schedules", body: `{` + ok + `,"policy":{"colour":"red"}}`, want: 400, field: "policy.colour"},
		{name: "policy not object", method: "POST", path: "/api/v1/schedules", body: `{` + ok + `,"policy":"all"}`, want: 400, field: "policy"},
		{name: "patch unknown key", prep: seedT, method: "PATCH", path: "/api/v1/schedules/counter", body: `{"handler_id":"other"}`, want: 400, field: "handler_id"},
		{name: "patch empty", prep: seedT, method: "PATCH", path: "/api/v1/schedules/counter", body: `{}`, want: 400, field: "body"},
		{name: "patch unknown", method: "PATCH", path: "/api/v1/schedules/ghost", body: `{"max_attempts":2}`, want: 404},
		{name: "patch bad trigger", prep: seedT, method: "PATCH", path: "/api/v1/schedules/counter", body: `{"trigger":{"type":"weekly"}}`, want: 400, field: "trigger.type"},
		{name: "patch trigger not object", prep: seedT, method: "PATCH", path: "/api/v1/schedules/counter", body: `{"trigger":"daily"}`, want: 400, field: "trigger"},
		{name: "patch bad timeout", prep: seedT, method: "PATCH", path: "/api/v1/schedules/counter", body: `{"timeout":"soon"}`, want: 400, field: "timeout"},
		{name: "patch bad timezone", prep: seedT, method: "PATCH", path: "/api/v1/schedules/counter", body: `{"timezone":"Mars/Olympus"}`, want: 400, field: "timezone"},
		{name: "patch params not object", prep: seedT, method: "PATCH", path: "/api/v1/schedules/counter", body: `{"job_params":[1]}`, want: 400, field: "job_params"},
		{name: "patch policy unknown key", prep: seedT, method: "PATCH", path: "/api/v1/schedules/counter", body: `{"policy":{"colour":1}}`, want: 400, field: "policy.colour"},
		{name: "patch policy bad value", prep: seedT, method: "PATCH", path: "/api/v1/schedules/counter", body: `{"policy":{"overlap":"never"}}`, want: 400, field: "policy.overlap"},
		{name: "patch policy bad duration", prep: seedT, method: "PATCH", path: "/api/v1/schedules/counter", body: `{"policy":{"backoff":"x"}}`, want: 400, field: "policy.backoff"},
		{name: "patch too many attempts", prep: seedT, method: "PATCH", path: "/api/v1/schedules/counter", body: `{"max_attempts":1000}`, want: 400, field: "max_attempts"},
		{name: "backfill unknown", method: "POST", path: "/api/v1/schedules/ghost/backfill", body: `{"from":"2026-01-01T00:00:00Z","to":"2026-01-02T00:00:00Z"}`, want: 404},
		{name: "backfill missing from", prep: seedT, method: "POST", path: "/api/v1/schedules/counter/backfill", body: `{"to":"2026-01-02T00:00:00Z"}`, want: 400, field: "from"},
		{name: "backfill bad to", prep: seedT, method: "POST", path: "/api/v1/schedules/counter/backfill", body: `{"from":"2026-01-01T00:00:00Z","to":"tomorrow"}`, want: 400, field: "to"},
		{name: "backfill reversed", prep: seedT, method: "POST", path: "/api/v1/schedules/counter/backfill", body: `{"from":"2026-01-02T00:00:00Z","to":"2026-01-01T00:00:00Z"}`, want: 400, field: "to"},
		{name: "backfill too many", prep: seedT, method: "POST", path: "/api/v1/schedules/counter/backfill", body: `{"from":"2026-01-02T03:04:05Z","to":"2026-01-03T00:00:00Z"}`, want: 400, field: "to", msg: "1000"},
		{name: "backfill unknown key", prep: seedT, method: "POST", path: "/api/v1/schedules/counter/backfill", body: `{"from":"2026-01-01T00:00:00Z","to":"2026-01-01T00:00:00Z","n":1}`, want: 400, field: "n"},
		{name: "no route", method: "GET", path: "/api/nope", want: 404},
		{name: "auth missing", opts: api.Options{Tokens: []string{"s3cret"}}, method: "GET", path: "/api/v1/schedules", want: 401},
		{name: "auth wrong", opts: api.Options{Tokens: []string{"s3cret"}}, method: "GET", path: "/api/schedules", hdr: []string{"Authorization", "Bearer nope"}, want: 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tb := setup(t, tc.opts)
			if tc.prep != nil {
				tc.prep(t, tb)
			}
			code, body := tb.do(t, tc.method, tc.path, tc.body, tc.hdr...)
			if code != tc.want {
				t.Fatalf("status %d, want %d: %s", code, tc.want, body)
			}
			var eb api.ErrorBody
			dec := json.NewDecoder(bytes.NewReader(body))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&eb); err != nil {
				t.Fatalf("error body %s: %v", body, err)
			}
			if eb.Error.Code != tc.want || eb.Error.Message == "" {
				t.Errorf("envelope %+v, want code %d and a message", eb.Error, tc.want)
			}
			if eb.Error.Field != tc.field {
				t.Errorf("field %q, want %q (%s)", eb.Error.Field, tc.field, body)
			}
			if !strings.Contains(eb.Error.Message, tc.msg) {
				t.Errorf("message %q does not contain %q", eb.Error.Message, tc.msg)
			}
		})
	}
}

func seedT(t *testing.T, tb *testBundle) { seed(t, tb) }

func TestAPI_Success(t *testing.T) {
	const body = `{"handler_id":"dingaling","job_method":"quick_aling","job_params":{},"trigger":{"type":"interval","seconds":2},"job_id":"counter","replace":true}`
	tests := []struct {
		name         string
		method, path string
		body         string
		hdr          []string
		opts         api.Options
		noSeed       bool
		want         int
		prep         func(t *testing.T, tb *testBundle)
		check        func(t *testing.T, tb *testBundle, body []byte)
	}{
		{name: "replace keeps one schedule", method: "POST", path: "/api/schedule", body: body, want: 201,
			check: func(t *testing.T, tb *testBundle, _ []byte) {
				s, err := tb.b.GetSchedule(context.Background(), "counter")
				if err != nil || s.Method != "quick_aling" {
					t.Errorf("after replace: %+v %v", s, err)
				}
			}},
		{name: "legacy ignores unknown keys", method: "POST", path: "/api/schedule", body: `{"handler_id":"dingaling","job_method":"ping","job_params":{},"trigger":{"type":"interval","seconds":2},"extra":true}`, want: 201},
		{name: "limit clamped", method: "GET", path: "/api/executions?limit=5000", want: 200,
			check: func(t *testing.T, _ *testBundle, b []byte) {
				if !bytes.Contains(b, []byte(`"limit":1000`)) {
					t.Errorf("limit not clamped: %s", b)
				}
			}},
		{name: "errors limit clamped", method: "GET", path: "/api/executions/errors?limit=5000", want: 200,
			check: func(t *testing.T, _ *testBundle, b []byte) {
				if !bytes.Contains(b, []byte(`"limit":500`)) {
					t.Errorf("limit not clamped: %s", b)
				}
			}},
		{name: "filters", method: "GET", path: "/api/v1/executions?schedule_id=counter&handler_id=dingaling&status=error&limit=10", want: 200,
			check: func(t *testing.T, _ *testBundle, b []byte) {
				var l api.ExecutionList
				if err := json.Unmarshal(b, &l); err != nil || l.Count != 1 || l.Executions[0].Status != store.StatusFailed {
					t.Errorf("filtered: %s %v", b, err)
				}
			}},
		{name: "schedule executions", method: "GET", path: "/api/v1/schedules/counter/executions", want: 200,
			check: func(t *testing.T, _ *testBundle, b []byte) {
				var l api.ExecutionList
				if err := json.Unmarshal(b, &l); err != nil || l.Count != 4 {
					t.Errorf("schedule executions: %s %v", b, err)
				}
			}},
		{name: "legacy job_id filter", method: "GET", path: "/api/executions?job_id=ghost", want: 200,
			check: func(t *testing.T, _ *testBundle, b []byte) {
				if !bytes.Contains(b, []byte(`"count":0`)) {
					t.Errorf("job_id filter: %s", b)
				}
			}},
		{name: "v1 delete", method: "DELETE", path: "/api/v1/schedules/counter", want: 204},
		{name: "v1 get", method: "GET", path: "/api/v1/schedules/counter", want: 200},
		{name: "resume", method: "POST", path: "/api/v1/schedules/counter/resume", want: 200,
			check: func(t *testing.T, _ *testBundle, b []byte) {
				if !bytes.Contains(b, []byte(`"paused":false`)) {
					t.Errorf("resume: %s", b)
				}
			}},
		{name: "v1 handlers", method: "GET", path: "/api/v1/handlers", want: 200},
		{name: "missed status filter", method: "GET", path: "/api/v1/executions?status=missed", want: 200,
			check: func(t *testing.T, _ *testBundle, b []byte) {
				var l api.ExecutionList
				if err := json.Unmarshal(b, &l); err != nil || l.Count != 1 || l.Executions[0].Status != store.StatusMissed {
					t.Errorf("missed: %s %v", b, err)
				}
			}},
		{name: "stats count missed, success rate ignores them", method: "GET", path: "/api/v1/stats", want: 200,
			check: func(t *testing.T, _ *testBundle, b []byte) {
				var st api.Stats
				if err := json.Unmarshal(b, &st); err != nil || st.Missed != 1 || st.ByStatus[store.StatusMissed] != 1 || st.SuccessRate != 66.67 {
					t.Errorf("stats: %s %v", b, err)
				}
			}},
		{name: "patch merges policy keys", method: "PATCH", path: "/api/v1/schedules/counter", body: `{"policy":{"overlap":"queue"}}`, want: 200,
			prep: func(t *testing.T, tb *testBundle) {
				if code, b := tb.do(t, "PATCH", "/api/v1/schedules/counter", `{"policy":{"misfire":"skip","grace_time":"1m"}}`); code != 200 {
					t.Fatalf("first patch: %d %s", code, b)
				}
			},
			check: func(t *testing.T, tb *testBundle, b []byte) {
				var s api.Schedule
				if err := json.Unmarshal(b, &s); err != nil || s.Policy == nil ||
					s.Policy.Misfire != "skip" || s.Policy.GraceTime != "1m0s" || s.Policy.Overlap != "queue" {
					t.Errorf("merged policy: %s %v", b, err)
				}
			}},
		{name: "patch policy null resets", method: "PATCH", path: "/api/v1/schedules/counter", body: `{"policy":null,"max_attempts":2}`, want: 200,
			prep: func(t *testing.T, tb *testBundle) {
				if code, b := tb.do(t, "PATCH", "/api/v1/schedules/counter", `{"policy":{"misfire":"skip"}}`); code != 200 {
					t.Fatalf("first patch: %d %s", code, b)
				}
			},
			check: func(t *testing.T, tb *testBundle, b []byte) {
				s, err := tb.b.GetSchedule(context.Background(), "counter")
				if err != nil || s.Policy.Misfire != "" || s.MaxAttempts != 2 || bytes.Contains(b, []byte(`"policy"`)) {
					t.Errorf("reset: %s %+v %v", b, s, err)
				}
			}},
		{name: "auth ok", opts: api.Options{Tokens: []string{"a", "s3cret"}}, method: "GET", path: "/api/v1/schedules", hdr: []string{"Authorization", "Bearer s3cret"}, noSeed: true, want: 200},
		{name: "health open with auth", opts: api.Options{Tokens: []string{"s3cret"}}, method: "GET", path: "/api/health", noSeed: true, want: 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tb := setup(t, tc.opts)
			if !tc.noSeed {
				seed(t, tb)
			}
			if tc.prep != nil {
				tc.prep(t, tb)
			}
			code, b := tb.do(t, tc.method, tc.path, tc.body, tc.hdr...)
			if code != tc.want {
				t.Fatalf("status %d, want %d: %s", code, tc.want, b)
			}
			if tc.check != nil {
				tc.check(t, tb, b)
			}
		})
	}
}

// FuzzCreateSchedule posts arbitrary bodies: bad input is never a 5xx and
// every error is the JSON envelope with a matching code.
func FuzzCreateSchedule(f *testing.F) {
	for _, s := range []string{
		`{"handler_id":"dingaling","job_method":"quick_aling","trigger":{"type":"interval","seconds":2}}`,
		`{"id":"x","handler_id":"dingaling","job_method":"ping","job_params":{"a":[1,2]},"trigger":{"type":"date","run_date":"2030-01-01T00:00:00Z"},"timeout":"1s","max_attempts":2,"replace":true}`,
		`{"handler_id":"dingaling","job_method":"ping","trigger":{"type":"cron","expr":"* * * * *"},"timezone":"Mars/Olympus"}`,
		`{"trigger":{"type":"interval","seconds":-1e308}}`, `{"job_params":"x"}`, `{"timeout":"-1s"}`, `null`, `{}`, `[]`, `"`, `{"a":}`,
		"\x00", `{"handler_id":"dingaling","job_method":"ping","trigger":{"type":"date","run_date":1e999}}`,
		`{"handler_id":"dingaling","job_method":"ping","trigger":{"type":"interval","seconds":1},"policy":` + fullPolicy + `}`,
		`{"policy":{"grace_time":"-9223372036854775808ns","retry_on":[null],"x":1}}`, `{"policy":[]}`,
	} {
		f.Add(s)
	}
	// The fuzz target calls the handler in-process: the network adds nothing
	// to what is fuzzed (decoding and validation) and costs ephemeral ports.
	// The table tests above go over real HTTP.
	tb := setup(f, api.Options{MaxBodyBytes: 4096, MaxParamsBytes: 256})
	h := tb.srv.Config.Handler
	f.Fuzz(func(t *testing.T, body string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", "/api/v1/schedules", strings.NewReader(body)))
		code, out := rec.Code, rec.Body.Bytes()
		if code >= 500 {
			t.Fatalf("status %d for %q: %s", code, body, out)
		}
		if code >= 400 {
			var eb api.ErrorBody
			if err := json.Unmarshal(out, &eb); err != nil || eb.Error.Code != code || eb.Error.Message == "" {
				t.Fatalf("bad error envelope for %q: %s (%v)", body, out, err)
			}
		}
	})
}
