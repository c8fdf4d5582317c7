package sd

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/coreos/go-systemd/v22/journal"

	"github.com/schedulezero/schedulezero/pkg/field"
)

type sent struct {
	msg  string
	pri  journal.Priority
	vars map[string]string
}

func capture(opts *slog.HandlerOptions) (*slog.Logger, *[]sent) {
	var got []sent
	h := NewJournalHandler(opts).(*JournalHandler)
	h.sendFunc = func(m string, p journal.Priority, v map[string]string) error {
		got = append(got, sent{m, p, v})
		return nil
	}
	return slog.New(h), &got
}

func TestJournalHandler_Fields(t *testing.T) {
	tests := []struct {
		name    string
		log     func(l *slog.Logger)
		msg     string
		pri     journal.Priority
		want    map[string]string
		missing []string
	}{
		{
			name: "execution keys",
			log: func(l *slog.Logger) {
				l.Info("attempt done", "schedule_id", "s1", "execution_id", "e1", "handler", "dingaling", "method", "ring", "attempt", 2)
			},
			msg: "attempt done", pri: journal.PriInfo,
			want: map[string]string{"SZ_SCHEDULE_ID": "s1", "SZ_EXECUTION_ID": "e1", "SZ_HANDLER": "dingaling", "SZ_METHOD": "ring", "SZ_ATTEMPT": "2"},
		},
		{
			name: "error value and level",
			log:  func(l *slog.Logger) { l.Error("send failed", "err", errors.New("boom")) },
			msg:  "send failed", pri: journal.PriErr,
			want: map[string]string{"SZ_ERR": "boom"},
		},
		{
			name: "warn", log: func(l *slog.Logger) { l.Warn("slow") },
			msg: "slow", pri: journal.PriWarning, want: map[string]string{},
		},
		{
			name: "debug", log: func(l *slog.Logger) { l.Debug("tick") },
			msg: "tick", pri: journal.PriDebug, want: map[string]string{},
		},
		{
			name: "with attrs and groups",
			log: func(l *slog.Logger) {
				//nolint:sloglint // how a key that is not snake_case maps to a journal field is the point
				l.With("component", "engine").WithGroup("job").With("id", 7).Info("fired", slog.Group("trigger", "kind", "cron"), "x-y.z", true)
			},
			msg: "fired", pri: journal.PriInfo,
			want: map[string]string{"SZ_COMPONENT": "engine", "SZ_JOB_ID": "7", "SZ_JOB_TRIGGER_KIND": "cron", "SZ_JOB_X_Y_Z": "true"},
		},
		{
			name: "inline empty group and empty attr dropped",
			log:  func(l *slog.Logger) { l.Info("m", slog.Group("", "a", 1), slog.Attr{}) }, //nolint:sloglint // the empty keys are the point
			msg:  "m", pri: journal.PriInfo,
			want: map[string]string{"SZ_A": "1"}, missing: []string{"SZ_"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, got := capture(&slog.HandlerOptions{Level: slog.LevelDebug})
			tt.log(l)
			if len(*got) != 1 {
				t.Fatalf("%d records sent, want 1", len(*got))
			}
			s := (*got)[0]
			if s.msg != tt.msg || s.pri != tt.pri {
				t.Errorf("message %q priority %d, want %q %d", s.msg, s.pri, tt.msg, tt.pri)
			}
			for k, v := range tt.want {
				if s.vars[k] != v {
					t.Errorf("%s = %q, want %q (all: %v)", k, s.vars[k], v, s.vars)
				}
			}
			for _, k := range tt.missing {
				if _, ok := s.vars[k]; ok {
					t.Errorf("unexpected field %s", k)
				}
			}
			if !strings.HasSuffix(s.vars["CODE_FILE"], "journal_test.go") || s.vars["CODE_LINE"] == "" ||
				!strings.Contains(s.vars["CODE_FUNC"], "TestJournalHandler_Fields") {
				t.Errorf("CODE_* = %q:%q %q", s.vars["CODE_FILE"], s.vars["CODE_LINE"], s.vars["CODE_FUNC"])
			}
			for k := range s.vars {
				if strings.Trim(k, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") != "" {
					t.Errorf("field %q is not a valid journald field name", k)
				}
			}
		})
	}
}

func TestJournalHandler_LevelFilterAndIsolation(t *testing.T) {
	l, got := capture(&slog.HandlerOptions{Level: slog.LevelWarn})
	if l.Enabled(context.Background(), slog.LevelInfo) {
		t.Error("info enabled at warn level")
	}
	a := l.With("handler", "a")
	b := l.With("handler", "b")
	a.Warn("x")
	b.Warn("y")
	l.Warn("z")
	if len(*got) != 3 {
		t.Fatalf("%d records, want 3", len(*got))
	}
	for i, want := range []string{"a", "b", ""} {
		if v := (*got)[i].vars["SZ_HANDLER"]; v != want {
			t.Errorf("record %d SZ_HANDLER = %q, want %q", i, v, want)
		}
	}
}

func TestNewLogger(t *testing.T) {
	tests := []struct {
		level   string
		wantErr bool
	}{
		{"debug", false}, {"info", false}, {"warn", false}, {"error", false}, {"INFO", false},
		{"verbose", true},
	}
	for _, tt := range tests {
		t.Run(tt.level, func(t *testing.T) {
			t.Setenv("JOURNAL_STREAM", "")
			var buf bytes.Buffer
			l, err := NewLogger(&buf, tt.level)
			if tt.wantErr {
				var fe *field.Error
				if !errors.As(err, &fe) || fe.Field != "log-level" {
					t.Fatalf("err = %v, want *field.Error on log-level", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			l.Error("hello", "execution_id", "e1")
			if !strings.Contains(buf.String(), "msg=hello execution_id=e1") {
				t.Fatalf("text output %q", buf.String())
			}
		})
	}
}
