package unitctl_test

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/field"
	"github.com/schedulezero/schedulezero/pkg/unitctl"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestStateFromProperties(t *testing.T) {
	tests := []struct {
		name          string
		unit, svc     map[string]any
		active, sub   string
		pid, restarts int
		mem           uint64
		since         int64 // unix microseconds
		enabled       bool
		result, exit  string
	}{
		{"running",
			map[string]any{"Id": "schedulezero-handler@ding.service", "ActiveState": "active", "SubState": "running",
				"StateChangeTimestamp": uint64(1_700_000_000_000_000), "ActiveEnterTimestamp": uint64(1_600_000_000_000_000), "UnitFileState": "enabled"},
			map[string]any{"MainPID": uint32(4242), "NRestarts": uint32(2), "MemoryCurrent": uint64(1 << 20), "Result": "success",
				"ExecMainCode": int32(0), "ExecMainStatus": int32(0)},
			"active", "running", 4242, 2, 1 << 20, 1_700_000_000_000_000, true, "success", ""},
		{"never started: memory not set",
			map[string]any{"Id": "schedulezero-handler@x.service", "ActiveState": "inactive", "SubState": "dead",
				"StateChangeTimestamp": uint64(0), "ActiveEnterTimestamp": uint64(0), "UnitFileState": "disabled"},
			map[string]any{"MainPID": uint32(0), "NRestarts": uint32(0), "MemoryCurrent": ^uint64(0), "Result": "success",
				"ExecMainCode": int32(1), "ExecMainStatus": int32(3)},
			"inactive", "dead", 0, 0, 0, 0, false, "success", "status 3"},
		{"failed: since from ActiveEnter",
			map[string]any{"ActiveState": "failed", "SubState": "failed", "ActiveEnterTimestamp": uint64(1_600_000_000_500_000),
				"UnitFileState": "enabled-runtime"},
			map[string]any{"Result": "signal", "ExecMainCode": int32(2), "ExecMainStatus": int32(9)},
			"failed", "failed", 0, 0, 0, 1_600_000_000_500_000, true, "signal", "signal SIGKILL"},
		{"wrong types are zero", map[string]any{"ActiveState": 7, "StateChangeTimestamp": "soon"}, map[string]any{"MainPID": "1"},
			"", "", 0, 0, 0, 0, false, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := unitctl.StateFromProperties(tt.unit, tt.svc)
			if st.ActiveState != tt.active || st.SubState != tt.sub || st.MainPID != tt.pid || st.NRestarts != tt.restarts ||
				st.MemoryBytes != tt.mem || st.Enabled != tt.enabled || st.Result != tt.result || st.Exit != tt.exit {
				t.Fatalf("StateFromProperties = %+v", st)
			}
			if (tt.since == 0) != st.Since.IsZero() || (tt.since != 0 && st.Since.UnixMicro() != tt.since) {
				t.Fatalf("Since = %v, want unix µs %d", st.Since, tt.since)
			}
		})
	}
}

func TestCheckUnit(t *testing.T) {
	tests := []struct {
		unit string
		ok   bool
	}{
		{"schedulezero-handler@ding.service", true},
		{`schedulezero-handler@a\x20b.service`, true},
		{"schedulezero-handler@.service", false},
		{"schedulezero-scheduler.service", false},
		{"sshd.service", false},
		{"schedulezero-handler@*.service", false},
		{"schedulezero-handler@x.service sshd.service", false},
		{"schedulezero-handler@x.socket", false},
		{"schedulezero-handler@../../x.service", false},
	}
	for _, tt := range tests {
		err := unitctl.CheckUnit(tt.unit)
		if tt.ok != (err == nil) || (err != nil && !errors.Is(err, unitctl.ErrRefused)) {
			t.Errorf("CheckUnit(%q) = %v, want ok=%v", tt.unit, err, tt.ok)
		}
	}
}

// noBus points the system bus at a socket that does not exist.
func noBus(t *testing.T) {
	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path="+filepath.Join(t.TempDir(), "no-bus"))
}

// TestManager_RefusesBeforeCallingSystemd proves a bad name never reaches
// the bus: the bus does not exist, so any call would fail with ErrBus
// instead of a field error.
func TestManager_RefusesBeforeCallingSystemd(t *testing.T) {
	noBus(t)
	m := unitctl.New(unitctl.Options{})
	defer m.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	calls := map[string]func(string) error{
		"Start":      func(n string) error { return m.Start(ctx, n) },
		"Stop":       func(n string) error { return m.Stop(ctx, n, time.Second) },
		"SetEnabled": func(n string) error { return m.SetEnabled(ctx, n, true) },
		"State":      func(n string) error { _, err := m.State(ctx, n); return err },
	}
	for call, f := range calls {
		for _, bad := range []string{"", "../../sshd", "sshd.service foo", "a/b", "*"} {
			var fe *field.Error
			if err := f(bad); !errors.As(err, &fe) || fe.Field != "name" {
				t.Errorf("%s(%q) = %v, want a *field.Error naming the name", call, bad, err)
			}
		}
	}
	if err := m.Start(ctx, "ding"); !errors.Is(err, unitctl.ErrBus) {
		t.Errorf("Start(ding) with no bus = %v, want ErrBus", err)
	}
	if _, err := m.Watch(ctx); !errors.Is(err, unitctl.ErrBus) {
		t.Errorf("Watch with no bus = %v, want ErrBus", err)
	}
}

// TestManager_HungBusHasDeadline serves a bus that accepts connections and
// never answers: every call returns by its deadline, and Close leaves no
// goroutine behind (goleak in TestMain).
func TestManager_HungBusHasDeadline(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "hung-bus")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	var held []net.Conn
	accepted := make(chan struct{})
	go func() {
		defer close(accepted)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c) // read nothing, answer nothing
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-accepted
		for _, c := range held {
			c.Close()
		}
	})
	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path="+sock)
	m := unitctl.New(unitctl.Options{CallTimeout: 300 * time.Millisecond})
	defer m.Close()
	calls := map[string]func(ctx context.Context) error{
		"Start":      func(ctx context.Context) error { return m.Start(ctx, "ding") },
		"Stop":       func(ctx context.Context) error { return m.Stop(ctx, "ding", 100*time.Millisecond) },
		"SetEnabled": func(ctx context.Context) error { return m.SetEnabled(ctx, "ding", true) },
		"State":      func(ctx context.Context) error { _, err := m.State(ctx, "ding"); return err },
		"Watch":      func(ctx context.Context) error { _, err := m.Watch(ctx); return err },
	}
	t.Run("a caller waiting for another's dial keeps its own deadline", func(t *testing.T) {
		slow := make(chan error, 1)
		go func() { slow <- m.Start(context.Background(), "ding") }() // dials, bounded by 300ms
		time.Sleep(20 * time.Millisecond)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		start := time.Now()
		if _, err := m.State(ctx, "ding"); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("State = %v, want its deadline", err)
		}
		if d := time.Since(start); d > 200*time.Millisecond {
			t.Errorf("State waited %v; its deadline was 50ms", d)
		}
		<-slow
	})
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			err := call(context.Background())
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("err = %v, want a deadline", err)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Fatalf("returned after %v; the call timeout is 300ms", d)
			}
		})
	}
}
