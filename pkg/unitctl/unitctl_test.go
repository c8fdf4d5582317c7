package unitctl_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/field"
	"github.com/schedulezero/schedulezero/pkg/governortest"
	"github.com/schedulezero/schedulezero/pkg/unitctl"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestParseShow(t *testing.T) {
	tests := []struct {
		name, out     string
		active, sub   string
		pid, restarts int
		mem           uint64
		since         int64
		enabled       bool
		result        string
	}{
		{"running", "Id=schedulezero-handler@ding.service\nActiveState=active\nSubState=running\nMainPID=4242\nNRestarts=2\n" +
			"MemoryCurrent=1048576\nStateChangeTimestamp=@1700000000\nActiveEnterTimestamp=@1600000000\nUnitFileState=enabled\nResult=success\n",
			"active", "running", 4242, 2, 1 << 20, 1700000000, true, "success"},
		{"never started", "Id=schedulezero-handler@x.service\nActiveState=inactive\nSubState=dead\nMainPID=0\nNRestarts=0\n" +
			"MemoryCurrent=[not set]\nStateChangeTimestamp=\nActiveEnterTimestamp=\nUnitFileState=disabled\nResult=success\n",
			"inactive", "dead", 0, 0, 0, 0, false, "success"},
		{"failed, since from ActiveEnter", "ActiveState=failed\nSubState=failed\nActiveEnterTimestamp=@1600000000.5\nResult=signal\nUnitFileState=enabled-runtime\n",
			"failed", "failed", 0, 0, 0, 1600000000, true, "signal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := unitctl.ParseShow(tt.out)
			if st.ActiveState != tt.active || st.SubState != tt.sub || st.MainPID != tt.pid || st.NRestarts != tt.restarts ||
				st.MemoryBytes != tt.mem || st.Enabled != tt.enabled || st.Result != tt.result {
				t.Fatalf("ParseShow = %+v", st)
			}
			if (tt.since == 0) != st.Since.IsZero() || (tt.since != 0 && st.Since.Unix() != tt.since) {
				t.Fatalf("Since = %v, want unix %d", st.Since, tt.since)
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
	}
	for _, tt := range tests {
		err := unitctl.CheckUnit(tt.unit)
		if tt.ok != (err == nil) || (err != nil && !errors.Is(err, unitctl.ErrRefused)) {
			t.Errorf("CheckUnit(%q) = %v, want ok=%v", tt.unit, err, tt.ok)
		}
	}
}

// TestManager_RefusesBeforeCallingSystemd proves a bad name never reaches
// systemctl: the configured systemctl does not exist, so any call would
// fail with ErrSystemctl instead of a field error.
func TestManager_RefusesBeforeCallingSystemd(t *testing.T) {
	m := unitctl.New(unitctl.Options{Systemctl: filepath.Join(t.TempDir(), "no-systemctl")})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	calls := map[string]func(string) error{
		"Start":      func(n string) error { return m.Start(ctx, n) },
		"Stop":       func(n string) error { return m.Stop(ctx, n, time.Second) },
		"SetEnabled": func(n string) error { return m.SetEnabled(ctx, n, true) },
		"State":      func(n string) error { _, err := m.State(ctx, n); return err },
	}
	for call, f := range calls {
		for _, bad := range []string{"", "../../sshd", "sshd.service foo", "a/b"} {
			var fe *field.Error
			if err := f(bad); !errors.As(err, &fe) {
				t.Errorf("%s(%q) = %v, want a *field.Error", call, bad, err)
			}
		}
	}
	if err := m.Start(ctx, "ding"); !errors.Is(err, unitctl.ErrSystemctl) {
		t.Errorf("Start(ding) with no systemctl = %v, want ErrSystemctl", err)
	}
}

// TestManager_Conformance runs the governor's conformance suite on the
// real system manager. It needs root or the polkit rule, an installed
// schedulezero-handler@.service and a reachable scheduler, so it runs only
// in the e2e sandbox: SZ_E2E=1 [SZ_E2E_CONFIG_DIR=/etc/schedulezero/handlers]
// [SZ_E2E_SCHEDULER=tcp://127.0.0.1:4242].
func TestManager_Conformance(t *testing.T) {
	if os.Getenv("SZ_E2E") != "1" {
		t.Skip("needs a real systemd with schedulezero-handler@.service installed; set SZ_E2E=1 (test/e2e does)")
	}
	dir := os.Getenv("SZ_E2E_CONFIG_DIR")
	if dir == "" {
		dir = "/etc/schedulezero/handlers"
	}
	sched := os.Getenv("SZ_E2E_SCHEDULER")
	if sched == "" {
		sched = "tcp://127.0.0.1:4242"
	}
	governortest.Exercise(t, func(t *testing.T) governortest.Harness {
		m := unitctl.New(unitctl.Options{PollInterval: 200 * time.Millisecond})
		return governortest.Harness{Units: m, Timeout: 30 * time.Second, Prepare: func(t *testing.T, name string) {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			ep := "tcp://" + l.Addr().String()
			l.Close() //nolint:errcheck // only the port was wanted
			p := filepath.Join(dir, name+".json")
			cfg := fmt.Sprintf(`{"kind":"dingaling","endpoint":%q,"scheduler":%q}`, ep, sched)
			if err := os.WriteFile(p, []byte(cfg), 0o644); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.Remove(p) }) //nolint:errcheck // best effort
		}}
	})
}
