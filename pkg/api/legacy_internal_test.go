package api

import (
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/store"
)

func TestLegacyTrigger(t *testing.T) {
	created := time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC)
	tests := []struct {
		name, trigger, want string
	}{
		{"date", `{"type":"date","run_date":"2026-12-07T10:00:00+01:00"}`, `DateTrigger('2026-12-07 10:00:00+01:00')`},
		{"date with fraction", `{"type":"date","run_date":"2023-11-14T22:13:20.5Z"}`, `DateTrigger('2023-11-14 22:13:20.500000+00:00')`},
		{"interval", `{"type":"interval","seconds":10,"start_time":"2026-01-02T03:04:05.123456789Z"}`, `IntervalTrigger(seconds=10, start_time='2026-01-02 03:04:05.123456+00:00')`},
		{"interval several", `{"type":"interval","hours":1,"minutes":1.5,"seconds":0,"start_time":"2026-01-02T03:04:05Z","end_time":"2027-01-01T00:00:00Z"}`,
			`IntervalTrigger(hours=1, minutes=1.5, start_time='2026-01-02 03:04:05+00:00', end_time='2027-01-01 00:00:00+00:00')`},
		{"cron minute", `{"type":"cron","minute":"*/2","timezone":"UTC"}`,
			`CronTrigger(year='*', month='*', day='*', week='*', day_of_week='*', hour='*', minute='*/2', second='0', start_time='2026-01-02T03:04:05.123456+00:00', timezone='UTC')`},
		{"cron day", `{"type":"cron","day":15,"timezone":"Europe/Berlin"}`,
			`CronTrigger(year='*', month='*', day='15', week='*', day_of_week='*', hour='0', minute='0', second='0', start_time='2026-01-02T04:04:05.123456+01:00', timezone='Europe/Berlin')`},
		{"crontab line", `{"type":"cron","expr":"30 9 * * mon-fri","timezone":"UTC","start_time":"2026-01-01T00:00:00Z"}`,
			`CronTrigger(year='*', month='*', day='*', week='*', day_of_week='mon-fri', hour='9', minute='30', second='0', start_time='2026-01-01T00:00:00+00:00', timezone='UTC')`},
		{"calendar", `{"type":"calendar","expr":"Mon..Fri *-*-* 09:00:00","timezone":"UTC"}`, `CalendarTrigger(expr='Mon..Fri *-*-* 09:00:00', timezone='UTC')`},
		{"not an object", `"daily"`, `"daily"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := legacyTrigger([]byte(tc.trigger), created); got != tc.want {
				t.Errorf("legacyTrigger(%s)\n got %s\nwant %s", tc.trigger, got, tc.want)
			}
		})
	}
}

func TestFoldExecution(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	failed := store.Execution{ID: "e", Attempt: 1, MaxAttempts: 3, HandlerID: "h", Method: "m", Status: store.StatusFailed,
		StartedAt: t0, CompletedAt: t0.Add(time.Second), Error: "boom", ParamsSummary: `{"a":1}`}
	pending := store.Execution{ID: "e", Attempt: 2, MaxAttempts: 3, HandlerID: "h", Method: "m", Status: store.StatusPending}
	ok := store.Execution{ID: "e", Attempt: 2, MaxAttempts: 3, HandlerID: "h", Method: "m", Status: store.StatusSucceeded,
		StartedAt: t0.Add(3 * time.Second), CompletedAt: t0.Add(3500 * time.Millisecond), Result: []byte(`{"success":true}`)}
	tests := []struct {
		name     string
		attempts []store.Execution
		status   string
		errText  any
		attempt  int
		duration any
	}{
		{"between attempts", []store.Execution{pending, failed}, "retry", "boom", 2, nil},
		{"retried to success", []store.Execution{ok, failed}, "success", nil, 2, 3500.0},
		{"one attempt", []store.Execution{failed}, "error", "boom", 1, 1000.0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := foldExecution(tc.attempts)
			var errText, dur any
			if r.Error != nil {
				errText = *r.Error
			}
			if r.DurationMS != nil {
				dur = *r.DurationMS
			}
			if r.Status != tc.status || errText != tc.errText || r.AttemptNumber != tc.attempt || dur != tc.duration ||
				r.StartedAt == nil || *r.StartedAt != "2026-01-02T03:04:05Z" || r.ParamsSummary == nil || r.JobID != nil {
				t.Errorf("fold = %+v (error %v, duration %v)", r, errText, dur)
			}
		})
	}
}
