package unitctl_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/governor"
	"github.com/schedulezero/schedulezero/pkg/unitctl"
)

// TestE2E_Supervisor_Systemd is acceptance 1 and 2 of the governor issue
// on a real systemd: add makes the instance enabled, active and healthy;
// status matches `systemctl show`; SIGKILL and SIGSTOP are both recovered;
// remove stops, disables and cleans. SZ_E2E=1 only (see
// TestManager_Conformance for the other variables).
func TestE2E_Supervisor_Systemd(t *testing.T) {
	if os.Getenv("SZ_E2E") != "1" {
		t.Skip("needs a real systemd with schedulezero-handler@.service installed; set SZ_E2E=1 (test/e2e does)")
	}
	dir := os.Getenv("SZ_E2E_CONFIG_DIR")
	if dir == "" {
		dir = "/etc/schedulezero/handlers"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	m := unitctl.New(unitctl.Options{PollInterval: 200 * time.Millisecond})
	sup, err := governor.New(governor.Options{Units: m, Backend: "systemd", ConfigDir: dir,
		Scheduler: os.Getenv("SZ_E2E_SCHEDULER"), CheckInterval: 500 * time.Millisecond, FailedChecks: 3,
		StopTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := sup.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer sup.Stop(context.Background(), 5*time.Second) //nolint:errcheck // systemd units outlive it by design
	const name = "dingaling2"
	defer sup.RemoveHandler(context.Background(), name, 5*time.Second) //nolint:errcheck // cleanup after a failure
	if _, err := sup.AddHandler(ctx, governor.HandlerConfig{Name: name, Kind: "dingaling",
		RestartDelay: governor.Duration(200 * time.Millisecond)}); err != nil {
		t.Fatal(err)
	}
	hi := await(t, ctx, sup, name, func(h governor.HandlerInfo) bool { return h.Healthy && h.Enabled })
	show, err := exec.CommandContext(ctx, "systemctl", "show", "-p", "MainPID,ActiveState,UnitFileState", governor.UnitName(name)).Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ActiveState=active", "UnitFileState=enabled", "MainPID=" + strconv.Itoa(hi.PID)} {
		if !strings.Contains(string(show), want) {
			t.Fatalf("systemctl show:\n%s\nlacks %s (status %+v)", show, want, hi)
		}
	}
	for _, sig := range []syscall.Signal{syscall.SIGKILL, syscall.SIGSTOP} {
		old := hi.PID
		if err := syscall.Kill(old, sig); err != nil {
			t.Fatal(err)
		}
		hi = await(t, ctx, sup, name, func(h governor.HandlerInfo) bool { return h.Healthy && h.PID != old })
		t.Logf("%v: pid %d -> %d, restarts %d", sig, old, hi.PID, hi.Restarts)
	}
	if err := sup.RemoveHandler(ctx, name, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	st, err := m.State(ctx, name)
	if err != nil || st.Running() || st.Enabled {
		t.Fatalf("after remove: %+v, %v", st, err)
	}
	if _, err := os.Stat(filepath.Join(dir, name+".json")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("config left: %v", err)
	}
}

func await(t *testing.T, ctx context.Context, g governor.Governor, name string, cond func(governor.HandlerInfo) bool) governor.HandlerInfo {
	t.Helper()
	for {
		hi, err := g.HandlerStatus(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if cond(hi) {
			return hi
		}
		select {
		case <-ctx.Done():
			t.Fatalf("handler %q: condition not met: %+v", name, hi)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// TestE2E_Polkit is acceptance 3: run as the governor's user (uid of
// "schedulezero") with the polkit rule installed, the Manager may start
// and stop a handler instance, while systemd refuses any other unit.
// SZ_E2E_POLKIT=1; SZ_E2E_FOREIGN_UNIT names the unit to be refused
// (default systemd-journald.service, restarted if wrongly allowed).
func TestE2E_Polkit(t *testing.T) {
	if os.Getenv("SZ_E2E_POLKIT") != "1" {
		t.Skip("needs systemd, the polkit rule and this test running as user schedulezero; set SZ_E2E_POLKIT=1")
	}
	if os.Getuid() == 0 {
		t.Fatal("run this test as the schedulezero user: root bypasses polkit")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	foreign := os.Getenv("SZ_E2E_FOREIGN_UNIT")
	if foreign == "" {
		foreign = "systemd-journald.service"
	}
	out, err := exec.CommandContext(ctx, "systemctl", "--no-ask-password", "restart", foreign).CombinedOutput()
	if err == nil {
		t.Fatalf("restart %s as the governor's user was allowed; polkit must refuse it", foreign)
	}
	t.Logf("refused as expected: %s", strings.TrimSpace(string(out)))
	name := os.Getenv("SZ_E2E_HANDLER")
	if name == "" {
		name = "dingaling"
	}
	m := unitctl.New(unitctl.Options{})
	if err := m.Start(ctx, name); err != nil {
		t.Fatalf("start %s as the governor's user: %v", governor.UnitName(name), err)
	}
	if err := m.Stop(ctx, name, 10*time.Second); err != nil {
		t.Fatalf("stop %s as the governor's user: %v", governor.UnitName(name), err)
	}
	if err := m.Start(ctx, name); err != nil {
		t.Fatal(err)
	}
}
