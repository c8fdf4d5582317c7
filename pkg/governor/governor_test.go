package governor_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/field"
	"github.com/schedulezero/schedulezero/pkg/governor"
	"github.com/schedulezero/schedulezero/pkg/handlername"
)

func secretFile(raw string) governor.HandlerConfig {
	return governor.HandlerConfig{Name: "x", Kind: "dingaling", Extra: map[string]json.RawMessage{"secret_file": json.RawMessage(raw)}}
}

func TestHandlerConfig_Validate(t *testing.T) {
	exec := map[string]json.RawMessage{"hello": json.RawMessage(`{"command":["/bin/echo","hi"]}`)}
	tests := []struct {
		name  string
		cfg   governor.HandlerConfig
		field string // "" = valid
	}{
		{"dingaling", governor.HandlerConfig{Name: "ding", Kind: "dingaling"}, ""},
		{"exec", governor.HandlerConfig{Name: "jobs.1", Kind: "exec", Methods: exec}, ""},
		{"empty name", governor.HandlerConfig{Kind: "dingaling"}, "name"},
		{"slash in name", governor.HandlerConfig{Name: "a/b", Kind: "dingaling"}, "name"},
		{"dotdot", governor.HandlerConfig{Name: "..", Kind: "dingaling"}, "name"},
		{"bad kind", governor.HandlerConfig{Name: "x", Kind: "python"}, "kind"},
		{"exec without methods", governor.HandlerConfig{Name: "x", Kind: "exec"}, "methods"},
		{"dingaling with methods", governor.HandlerConfig{Name: "x", Kind: "dingaling", Methods: exec}, "methods"},
		{"negative concurrency", governor.HandlerConfig{Name: "x", Kind: "dingaling", Concurrency: -1}, "concurrency"},
		{"negative budget", governor.HandlerConfig{Name: "x", Kind: "dingaling", MaxRestarts: -1}, "max_restarts"},
		{"negative delay", governor.HandlerConfig{Name: "x", Kind: "dingaling", RestartDelay: -1}, "restart_delay"},
		{"unknown extra", governor.HandlerConfig{Name: "x", Kind: "dingaling", Extra: map[string]json.RawMessage{"port": json.RawMessage("1")}}, "extra.port"},
		{"secret credential name", secretFile(`"handler-secret"`), ""},
		{"secret absolute", secretFile(`"/etc/schedulezero/ding.secret"`), ""},
		{"secret climbs out", secretFile(`"../../etc/shadow"`), "extra.secret_file"},
		{"secret absolute with ..", secretFile(`"/etc/schedulezero/../shadow"`), "extra.secret_file"},
		{"secret not a string", secretFile(`42`), "extra.secret_file"},
		{"secret empty", secretFile(`""`), "extra.secret_file"},
		{"at sign in name", governor.HandlerConfig{Name: "a@b", Kind: "dingaling"}, "name"},
		{"loopback endpoint", governor.HandlerConfig{Name: "x", Kind: "dingaling", Endpoint: "tcp://127.0.0.1:4247"}, ""},
		{"ipc endpoint", governor.HandlerConfig{Name: "x", Kind: "dingaling", Endpoint: "ipc:///run/schedulezero/handler-x.sock"}, ""},
		{"wildcard endpoint", governor.HandlerConfig{Name: "x", Kind: "dingaling", Endpoint: "tcp://0.0.0.0:1"}, "endpoint"},
		{"other interface", governor.HandlerConfig{Name: "x", Kind: "dingaling", Endpoint: "tcp://192.0.2.7:4247"}, "endpoint"},
		{"garbage endpoint", governor.HandlerConfig{Name: "x", Kind: "dingaling", Endpoint: "garbage:///x"}, "endpoint"},
		{"wildcard allowed", governor.HandlerConfig{Name: "x", Kind: "dingaling", Endpoint: "tcp://0.0.0.0:1",
			Extra: map[string]json.RawMessage{"allow_non_loopback": json.RawMessage("true")}}, ""},
		{"ping interval", governor.HandlerConfig{Name: "x", Kind: "dingaling",
			Extra: map[string]json.RawMessage{"ping_interval": json.RawMessage(`"5s"`)}}, ""},
		{"ping interval not a duration", governor.HandlerConfig{Name: "x", Kind: "dingaling",
			Extra: map[string]json.RawMessage{"ping_interval": json.RawMessage(`"soon"`)}}, "extra.ping_interval"},
		{"allow not a bool", governor.HandlerConfig{Name: "x", Kind: "dingaling", Endpoint: "tcp://0.0.0.0:1",
			Extra: map[string]json.RawMessage{"allow_non_loopback": json.RawMessage(`"yes"`)}}, "extra.allow_non_loopback"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			var fe *field.Error
			if !errors.As(err, &fe) {
				t.Fatalf("Validate() = %v, want a *field.Error", err)
			}
			if fe.Field != tt.field {
				t.Fatalf("field = %q, want %q (%v)", fe.Field, tt.field, err)
			}
		})
	}
}

func TestHandlerConfig_Backoff(t *testing.T) {
	tests := []struct {
		delay time.Duration
		n     int
		want  time.Duration
	}{
		{0, 1, governor.DefaultRestartDelay},
		{100 * time.Millisecond, 1, 100 * time.Millisecond},
		{100 * time.Millisecond, 2, 200 * time.Millisecond},
		{100 * time.Millisecond, 4, 800 * time.Millisecond},
		{10 * time.Second, 5, governor.MaxRestartDelay},
		{time.Second, 1000, governor.MaxRestartDelay},
	}
	for _, tt := range tests {
		got := governor.HandlerConfig{RestartDelay: handlername.Duration(tt.delay)}.Backoff(tt.n)
		if got != tt.want {
			t.Errorf("Backoff(delay %v, n %d) = %v, want %v", tt.delay, tt.n, got, tt.want)
		}
	}
}

func TestUnitName(t *testing.T) {
	tests := []struct{ name, unit string }{
		{"dingaling", "schedulezero-handler@dingaling.service"},
		{"ding-2", "schedulezero-handler@ding-2.service"},
		{"a b", `schedulezero-handler@a\x20b.service`},
	}
	for _, tt := range tests {
		if got := governor.UnitName(tt.name); got != tt.unit {
			t.Errorf("UnitName(%q) = %q, want %q", tt.name, got, tt.unit)
		}
		back, err := governor.HandlerOfUnit(tt.unit)
		if err != nil || back != tt.name {
			t.Errorf("HandlerOfUnit(%q) = %q, %v; want %q", tt.unit, back, err, tt.name)
		}
	}
	for _, u := range []string{"sshd.service", "schedulezero-scheduler.service", "schedulezero-handler@.service", "schedulezero-handler@x.timer"} {
		if _, err := governor.HandlerOfUnit(u); !errors.Is(err, governor.ErrNotManaged) {
			t.Errorf("HandlerOfUnit(%q) = %v, want ErrNotManaged", u, err)
		}
	}
}
