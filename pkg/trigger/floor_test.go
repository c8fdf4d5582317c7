package trigger

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/field"
)

func TestParseMin(t *testing.T) {
	tests := []struct {
		name  string
		raw   string
		min   time.Duration // default DefaultMinInterval
		field string        // "" when accepted
	}{
		{name: "interval 1ns legacy", raw: `{"type":"interval","seconds":1e-9}`, field: "seconds"},
		{name: "interval half second", raw: `{"type":"interval","seconds":0.5}`, field: "seconds"},
		{name: "interval 1s", raw: `{"type":"interval","seconds":1}`},
		{name: "interval units summed", raw: `{"type":"interval","minutes":1,"seconds":-59.5}`, field: "seconds"},
		{name: "interval minutes below a minute floor", raw: `{"type":"interval","minutes":0.5}`, min: time.Minute, field: "minutes"},
		{name: "every 1ns", raw: `{"type":"cron","expr":"@every 1ns"}`, field: "expr"},
		{name: "every 999ms crontab key", raw: `{"type":"cron","crontab":"@every 999ms"}`, field: "crontab"},
		{name: "every 1s", raw: `{"type":"cron","expr":"@every 1s"}`},
		{name: "crontab every second", raw: `{"type":"cron","expr":"* * * * * *"}`},
		{name: "crontab every second under 2s floor", raw: `{"type":"cron","expr":"* * * * * *"}`, min: 2 * time.Second, field: "expr"},
		{name: "crontab minutely", raw: `{"type":"cron","expr":"* * * * *"}`, min: time.Minute},
		{name: "cron fields every second", raw: `{"type":"cron","second":"*"}`},
		{name: "cron fields finest key named", raw: `{"type":"cron","hour":"*","second":"*/5"}`, min: 10 * time.Second, field: "second"},
		{name: "cron fields minute", raw: `{"type":"cron","minute":"*"}`, min: 10 * time.Second},
		{name: "calendar microsecond", raw: `{"type":"calendar","expr":"*:*:0/0.000001"}`, field: "expr"},
		{name: "calendar half second", raw: `{"type":"calendar","expr":"*:*:0/0.5"}`, field: "expr"},
		{name: "calendar two values half a second apart", raw: `{"type":"calendar","expr":"*-*-* 09:00:00,0.5"}`, field: "expr"},
		{name: "calendar gap across the minute", raw: `{"type":"calendar","expr":"*:*:0..58,59.5"}`, field: "expr"},
		{name: "calendar every second step", raw: `{"type":"calendar","expr":"*:*:0/1"}`},
		{name: "calendar every second", raw: `{"type":"calendar","expr":"*:*:*"}`},
		{name: "calendar daily", raw: `{"type":"calendar","expr":"daily"}`},
		{name: "calendar every 30s under a minute floor", raw: `{"type":"calendar","expr":"*:*:0/30"}`, min: time.Minute, field: "expr"},
		{name: "date", raw: `{"type":"date","run_date":"2026-01-02T03:04:06"}`},
		{name: "no floor", raw: `{"type":"interval","seconds":1e-9}`, min: -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			min := tt.min
			if min == 0 {
				min = DefaultMinInterval
			}
			_, _, err := ParseMin(json.RawMessage(tt.raw), parseNow, time.UTC, min)
			if tt.field == "" {
				if err != nil {
					t.Fatalf("ParseMin(%s, %s) = %v, want no error", tt.raw, min, err)
				}
				return
			}
			var fe *field.Error
			if !errors.As(err, &fe) {
				t.Fatalf("ParseMin(%s, %s) = %v, want a *field.Error", tt.raw, min, err)
			}
			if fe.Field != tt.field || !strings.Contains(fe.Error(), min.String()) {
				t.Errorf("ParseMin(%s) = %q on field %q, want field %q and the floor %s named", tt.raw, fe.Error(), fe.Field, tt.field, min)
			}
		})
	}
}

func TestMinGap(t *testing.T) {
	tests := []struct {
		raw  string
		want time.Duration // 0: no repetition
	}{
		{`{"type":"interval","minutes":5}`, 5 * time.Minute},
		{`{"type":"cron","expr":"@every 90s"}`, 90 * time.Second},
		{`{"type":"cron","expr":"*/15 * * * *"}`, 15 * time.Minute},
		{`{"type":"cron","expr":"0 9,17 * * *"}`, 8 * time.Hour},
		{`{"type":"calendar","expr":"*:*:0..58,59.5"}`, 500 * time.Millisecond},
		{`{"type":"calendar","expr":"*-*-* 00,23:00,59:00"}`, time.Minute},
		{`{"type":"calendar","expr":"daily"}`, 24 * time.Hour},
		{`{"type":"date","run_date":"2026-01-02T03:04:06"}`, 0},
	}
	for _, tt := range tests {
		trig, _, err := Parse(json.RawMessage(tt.raw), parseNow, time.UTC)
		if err != nil {
			t.Fatalf("Parse(%s): %v", tt.raw, err)
		}
		got, ok := MinGap(trig, parseNow)
		if ok != (tt.want != 0) || got != tt.want {
			t.Errorf("MinGap(%s) = %s, %v; want %s", tt.raw, got, ok, tt.want)
		}
	}
}
