package schedulerd_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/schedulerd"
)

// TestLegacy_FiredDateSchedule_GoneAndIDFree: a date schedule that fired is
// gone from GET /api/schedules and its job_id can be created again (201),
// while its history stays and a live duplicate is still 409.
func TestLegacy_FiredDateSchedule_GoneAndIDFree(t *testing.T) {
	r := startRest(t, schedulerd.Options{})
	once := func(at time.Time) string {
		return fmt.Sprintf(`{"handler_id":"dingaling","job_method":"quick_aling","job_params":{},"trigger":{"type":"date","run_date":%d},"job_id":"once"}`, at.Unix())
	}
	body := once(time.Now())
	r.call(t, "POST", "/api/schedule", body, http.StatusCreated, nil)
	await(t, "the date schedule's run", func() bool {
		var l legacyRecords
		r.call(t, "GET", "/api/executions?job_id=once&status=success", "", http.StatusOK, &l)
		return l.Count == 1
	})
	var l legacySchedules
	r.call(t, "GET", "/api/schedules", "", http.StatusOK, &l)
	if l.has("once") {
		t.Errorf("GET /api/schedules still lists the fired date schedule: %+v", l)
	}
	var v1 struct {
		Done bool `json:"done"`
	}
	r.call(t, "GET", "/api/v1/schedules/once", "", http.StatusOK, &v1)
	if !v1.Done {
		t.Errorf("/api/v1 shows the fired schedule with done=false")
	}

	// The same script runs again: the one-shot job is re-created.
	future := once(time.Now().Add(time.Hour))
	r.call(t, "POST", "/api/schedule", future, http.StatusCreated, nil)
	r.call(t, "GET", "/api/schedules", "", http.StatusOK, &l)
	if !l.has("once") {
		t.Errorf("the re-created schedule is not listed: %+v", l)
	}
	var hist legacyRecords
	r.call(t, "GET", "/api/executions?job_id=once", "", http.StatusOK, &hist)
	if hist.Count != 1 {
		t.Errorf("history of the first run: %d records, want 1", hist.Count)
	}
	// Now it is live again: a duplicate is refused.
	resp, out := r.do(t, "POST", "/api/schedule", future)
	if resp.StatusCode != http.StatusConflict {
		t.Errorf("duplicate of a live schedule: %d %s, want 409", resp.StatusCode, out)
	}
}

// TestLegacy_RunNow_Errors: a method the handler does not expose is a 400
// and is not sent; a handler that answers success=false is a 500.
func TestLegacy_RunNow_Errors(t *testing.T) {
	r := startRest(t, schedulerd.Options{})
	tests := []struct {
		name, body string
		want       int
		msg        string
	}{
		{"not exposed", `{"handler_id":"dingaling","job_method":"nope","job_params":{}}`, 400, "Method 'nope' not exposed by handler 'dingaling'"},
		{"handler error", `{"handler_id":"dingaling","job_method":"fail_aling","job_params":{}}`, 500, "Failed to execute job: Handler returned error: no bell"},
		{"success", `{"handler_id":"dingaling","job_method":"quick_aling","job_params":{}}`, 200, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, out := r.do(t, "POST", "/api/run_now", tc.body)
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.want, out)
			}
			var e struct {
				Error struct {
					Code    int    `json:"code"`
					Message string `json:"message"`
				} `json:"error"`
				Status string `json:"status"`
			}
			if err := json.Unmarshal(out, &e); err != nil {
				t.Fatal(err)
			}
			if tc.msg == "" {
				if e.Status != "success" {
					t.Errorf("body %s, want status success", out)
				}
				return
			}
			if e.Error.Code != tc.want || e.Error.Message != tc.msg {
				t.Errorf("error %+v, want code %d message %q", e.Error, tc.want, tc.msg)
			}
		})
	}
	var v1 struct {
		Executions []struct {
			Method string `json:"method_name"`
		} `json:"executions"`
	}
	r.call(t, "GET", "/api/v1/executions", "", http.StatusOK, &v1)
	for _, e := range v1.Executions {
		if e.Method == "nope" {
			t.Errorf("the method the handler does not expose was sent: %+v", v1)
		}
	}
}

// TestLegacy_RequiredFieldsAndTriggerTypeCase: job_params is required on
// both endpoints, worded as the original; the trigger type is matched
// without regard to case.
func TestLegacy_RequiredFieldsAndTriggerTypeCase(t *testing.T) {
	r := startRest(t, schedulerd.Options{})
	tests := []struct {
		name, path, body string
		want             int
		msg              string
	}{
		{"schedule without job_params", "/api/schedule", `{"handler_id":"dingaling","job_method":"quick_aling","trigger":{"type":"interval","seconds":10}}`, 400, "Missing required fields: ['job_params']"},
		{"run_now without job_params", "/api/run_now", `{"handler_id":"dingaling","job_method":"quick_aling"}`, 400, "Missing required fields: ['job_params']"},
		{"run_now without anything", "/api/run_now", `{}`, 400, "Missing required fields: ['handler_id', 'job_method', 'job_params']"},
		{"Interval", "/api/schedule", `{"handler_id":"dingaling","job_method":"quick_aling","job_params":{},"trigger":{"type":"Interval","seconds":3600},"job_id":"cap"}`, 201, ""},
		{"CRON", "/api/schedule", `{"handler_id":"dingaling","job_method":"quick_aling","job_params":{},"trigger":{"type":"CRON","hour":3},"job_id":"cron-cap"}`, 201, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, out := r.do(t, "POST", tc.path, tc.body)
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.want, out)
			}
			if tc.msg != "" && !bytes.Contains(out, []byte(`"message":"`+tc.msg+`"`)) {
				t.Errorf("body %s, want message %q", out, tc.msg)
			}
		})
	}
}

// originalRecordFields are the keys of every record of the original's
// history.
var originalRecordFields = []string{"job_id", "handler_id", "method_name", "started_at", "completed_at", "duration_ms",
	"status", "result", "error", "attempt_number", "max_attempts", "params_summary"}

// TestLegacy_Executions_OneRecordPerExecution: a job failing all three
// attempts is one record (attempt 3, error) and one error in the stats,
// with every original field; /api/v1 keeps the three attempts.
func TestLegacy_Executions_OneRecordPerExecution(t *testing.T) {
	r := startRest(t, schedulerd.Options{DefaultMaxAttempts: 3})
	r.call(t, "POST", "/api/schedule", fmt.Sprintf(`{"handler_id":"dingaling","job_method":"fail_aling","job_params":{"x":1},"trigger":{"type":"date","run_date":%d},"job_id":"doomed"}`,
		time.Now().Unix()), http.StatusCreated, nil)
	r.call(t, "POST", "/api/run_now", `{"handler_id":"dingaling","job_method":"quick_aling","job_params":{}}`, http.StatusOK, nil)
	var l legacyRecords
	await(t, "the third failed attempt", func() bool {
		r.call(t, "GET", "/api/executions?job_id=doomed", "", http.StatusOK, &l)
		return l.Count == 1 && l.Records[0]["status"] == "error"
	})
	rec := l.Records[0]
	if rec["attempt_number"] != 3.0 || rec["max_attempts"] != 3.0 || rec["error"] != "no bell" {
		t.Errorf("record %v, want attempt 3 of 3, error \"no bell\"", rec)
	}
	var all legacyRecords
	r.call(t, "GET", "/api/executions", "", http.StatusOK, &all)
	if all.Count != 2 {
		t.Errorf("GET /api/executions: %d records, want 2: %v", all.Count, all.Records)
	}
	for _, rec := range all.Records {
		for _, k := range originalRecordFields {
			if _, ok := rec[k]; !ok {
				t.Errorf("record %v has no %q", rec, k)
			}
		}
		if rec["status"] == "success" && (rec["error"] != nil || rec["job_id"] != nil) {
			t.Errorf("run_now success record %v: want error and job_id null", rec)
		}
	}

	var st map[string]any
	r.call(t, "GET", "/api/executions/stats", "", http.StatusOK, &st)
	for k, want := range map[string]float64{"total_executions": 2, "lifetime_executions": 2, "success_count": 1, "error_count": 1,
		"success_rate": 50, "buffer_size": 1000, "buffer_utilization": 0.2} {
		if st[k] != want {
			t.Errorf("stats %s = %v, want %v (%v)", k, st[k], want, st)
		}
	}
	var errs struct {
		Count  int              `json:"count"`
		Errors []map[string]any `json:"errors"`
	}
	r.call(t, "GET", "/api/executions/errors", "", http.StatusOK, &errs)
	if errs.Count != 1 || errs.Errors[0]["job_id"] != "doomed" {
		t.Errorf("errors %+v, want the one execution of doomed", errs)
	}
	var v1 struct {
		Count int `json:"count"`
	}
	r.call(t, "GET", "/api/v1/schedules/doomed/executions", "", http.StatusOK, &v1)
	if v1.Count != 3 {
		t.Errorf("/api/v1 lists %d attempts of doomed, want 3", v1.Count)
	}
}

// TestLegacy_Schedules_TriggerStringAndArgs: the trigger is APScheduler 4's
// string form and args are [handler_id, job_method, job_params, job_id].
func TestLegacy_Schedules_TriggerStringAndArgs(t *testing.T) {
	r := startRest(t, schedulerd.Options{})
	const pyTime = `\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{6})?[+-]\d\d:\d\d`
	tests := []struct {
		id, trigger string
		want        string
	}{
		{"every10", `{"type":"interval","seconds":10,"start_time":"2030-01-02T03:04:05Z"}`, `^IntervalTrigger\(seconds=10, start_time='2030-01-02 03:04:05\+00:00'\)$`},
		{"every2m", `{"type":"interval","minutes":2}`, `^IntervalTrigger\(minutes=2, start_time='` + pyTime + `'\)$`},
		{"cron", `{"type":"cron","minute":"*/2"}`, `^CronTrigger\(year='\*', month='\*', day='\*', week='\*', day_of_week='\*', hour='\*', minute='\*/2', second='0', start_time='\d{4}-\d\d-\d\dT[^']+', timezone='UTC'\)$`},
		{"weekdays", `{"type":"cron","day_of_week":"mon-fri","hour":9}`, `^CronTrigger\(year='\*', month='\*', day='\*', week='\*', day_of_week='mon-fri', hour='9', minute='0', second='0', start_time='[^']+', timezone='UTC'\)$`},
		{"date", `{"type":"date","run_date":"2030-01-02T03:04:05Z"}`, `^DateTrigger\('2030-01-02 03:04:05\+00:00'\)$`},
	}
	for _, tc := range tests {
		r.call(t, "POST", "/api/schedule", `{"handler_id":"dingaling","job_method":"counter_test","job_params":{"increment":2},"trigger":`+tc.trigger+`,"job_id":"`+tc.id+`"}`, http.StatusCreated, nil)
	}
	var l legacySchedules
	r.call(t, "GET", "/api/schedules", "", http.StatusOK, &l)
	for _, tc := range tests {
		t.Run(tc.id, func(t *testing.T) {
			for _, s := range l.Schedules {
				if s.ID != tc.id {
					continue
				}
				str, _ := s.Trigger.(string)
				if !regexp.MustCompile(tc.want).MatchString(str) {
					t.Errorf("trigger %v, want it to match %s", s.Trigger, tc.want)
				}
				args, _ := json.Marshal(s.Args)
				if want := `["dingaling","counter_test",{"increment":2},"` + tc.id + `"]`; string(args) != want {
					t.Errorf("args %s, want %s", args, want)
				}
				return
			}
			t.Errorf("schedule %s not listed: %+v", tc.id, l)
		})
	}
}

// TestLegacy_PortalConfigReadme: GET / (the original's readiness probe)
// answers HTML without a token, /api/config the configuration without the
// secrets, /api/readme text.
func TestLegacy_PortalConfigReadme(t *testing.T) {
	const token = "s3cret-token-value"
	r := startRest(t, schedulerd.Options{Tokens: []string{token}})
	open := &rest{url: r.url, c: r.c}
	resp, out := open.do(t, "GET", "/", "")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
		!bytes.Contains(out, []byte("ScheduleZero")) || !bytes.Contains(out, []byte(`href="/api/health"`)) {
		t.Errorf("GET /: %d %q %s", resp.StatusCode, resp.Header.Get("Content-Type"), out)
	}
	if resp, _ := open.do(t, "GET", "/api/config", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /api/config without the token: %d, want 401", resp.StatusCode)
	}
	resp, out = r.do(t, "GET", "/api/config", "")
	var cfg struct {
		Scheduler map[string]any `json:"scheduler"`
		API       map[string]any `json:"api"`
	}
	if err := json.Unmarshal(out, &cfg); resp.StatusCode != http.StatusOK || err != nil {
		t.Fatalf("GET /api/config: %d %v %s", resp.StatusCode, err, out)
	}
	if bytes.Contains(out, []byte(token)) {
		t.Errorf("GET /api/config shows the token: %s", out)
	}
	if z, _ := cfg.Scheduler["zmq_bind"].(string); !strings.HasPrefix(z, "ipc://") || cfg.Scheduler["timezone"] != "UTC" ||
		cfg.API["authentication"] != true || cfg.API["tokens"] != 1.0 {
		t.Errorf("GET /api/config: %s", out)
	}
	resp, out = r.do(t, "GET", "/api/readme", "")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") || !bytes.Contains(out, []byte("/api/v1")) {
		t.Errorf("GET /api/readme: %d %q %s", resp.StatusCode, resp.Header.Get("Content-Type"), out)
	}
}
