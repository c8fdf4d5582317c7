package unitctl_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	sdbus "github.com/coreos/go-systemd/v22/dbus"
	"github.com/godbus/dbus/v5"

	"github.com/schedulezero/schedulezero/pkg/governor"
	"github.com/schedulezero/schedulezero/pkg/governor/governortest"
	"github.com/schedulezero/schedulezero/pkg/unitctl"
)

// These tests need a real systemd with schedulezero-handler@.service
// installed; test/e2e/governor_test.go builds this package's test binary
// and runs it inside the sandbox:
//
//	SZ_E2E=1 [SZ_E2E_CONFIG_DIR=/etc/schedulezero/handlers]
//	         [SZ_E2E_SCHEDULER=ipc:///run/schedulezero/zmq.sock]  as root
//	SZ_E2E_POLKIT=1 [SZ_E2E_HANDLER=NAME] [SZ_E2E_FOREIGN_UNIT=UNIT]
//	                                                    as user schedulezero

func e2eEnv(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// TestManager_Conformance runs the governor's conformance suite against
// PID 1 over D-Bus: start, stop, enable and the PropertiesChanged watch.
func TestManager_Conformance(t *testing.T) {
	if os.Getenv("SZ_E2E") != "1" {
		t.Skip("needs a real systemd with schedulezero-handler@.service installed; set SZ_E2E=1 (test/e2e does)")
	}
	dir := e2eEnv("SZ_E2E_CONFIG_DIR", "/etc/schedulezero/handlers")
	sched := e2eEnv("SZ_E2E_SCHEDULER", "ipc:///run/schedulezero/zmq.sock")
	governortest.Exercise(t, func(t *testing.T) governortest.Harness {
		m := unitctl.New(unitctl.Options{})
		t.Cleanup(func() { m.Close() })
		return governortest.Harness{Units: m, Timeout: 30 * time.Second, Prepare: func(t *testing.T, name string) {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			ep := "tcp://" + l.Addr().String()
			l.Close()
			p := filepath.Join(dir, name+".json")
			cfg := fmt.Sprintf(`{"kind":"dingaling","endpoint":%q,"scheduler":%q}`, ep, sched)
			if err := os.WriteFile(p, []byte(cfg), 0o644); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.Remove(p) })
		}}
	})
}

// TestManager_WatchSeesKill proves the watch is signal driven: a SIGKILL
// of the handler shows on the channel well within one second, with no
// poll interval anywhere in the Manager.
func TestManager_WatchSeesKill(t *testing.T) {
	if os.Getenv("SZ_E2E") != "1" {
		t.Skip("needs a real systemd; set SZ_E2E=1 (test/e2e does)")
	}
	name := e2eEnv("SZ_E2E_HANDLER", "dingaling")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	m := unitctl.New(unitctl.Options{})
	defer m.Close()
	if err := m.Start(ctx, name); err != nil {
		t.Fatal(err)
	}
	st, err := m.State(ctx, name)
	if err != nil || !st.Running() || st.MainPID <= 0 {
		t.Fatalf("state after start: %+v, %v", st, err)
	}
	wctx, wcancel := context.WithCancel(ctx)
	defer wcancel()
	ch, err := m.Watch(wctx)
	if err != nil {
		t.Fatal(err)
	}
	for s := range ch { // the initial snapshot
		if s.Name == name {
			break
		}
	}
	killed := time.Now()
	if err := syscall.Kill(st.MainPID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for {
		select {
		case s, ok := <-ch:
			if !ok {
				t.Fatal("watch closed")
			}
			if s.Name == name && s.MainPID != st.MainPID {
				t.Logf("SIGKILL of pid %d seen by the watch after %v: %s/%s result %s",
					st.MainPID, time.Since(killed).Round(time.Millisecond), s.ActiveState, s.SubState, s.Result)
				if d := time.Since(killed); d > 2*time.Second {
					t.Errorf("the watch took %v", d)
				}
				return
			}
		case <-ctx.Done():
			t.Fatal("no change on the watch after SIGKILL")
		}
	}
}

// TestE2E_Polkit is acceptance 3 at the bus level: run as the governor's
// user with the polkit rule installed, the Manager starts and stops a
// handler instance and enables it, while PID 1 refuses the same user
// every other unit (asked directly over D-Bus, past the Manager's own
// fence).
func TestE2E_Polkit(t *testing.T) {
	if os.Getenv("SZ_E2E_POLKIT") != "1" {
		t.Skip("needs systemd, the polkit rule and this test running as user schedulezero; set SZ_E2E_POLKIT=1")
	}
	if os.Getuid() == 0 {
		t.Fatal("run this test as the schedulezero user: root bypasses polkit")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	name := e2eEnv("SZ_E2E_HANDLER", "dingaling")
	m := unitctl.New(unitctl.Options{})
	defer m.Close()
	for _, step := range []struct {
		what string
		do   func() error
	}{
		{"stop", func() error { return m.Stop(ctx, name, 10*time.Second) }},
		{"start", func() error { return m.Start(ctx, name) }},
		{"disable", func() error { return m.SetEnabled(ctx, name, false) }},
		{"enable", func() error { return m.SetEnabled(ctx, name, true) }},
	} {
		if err := step.do(); err != nil {
			t.Fatalf("%s %s as uid %d: %v", step.what, governor.UnitName(name), os.Getuid(), err)
		}
	}
	if st, err := m.State(ctx, name); err != nil || !st.Running() || !st.Enabled {
		t.Fatalf("after start and enable: %+v, %v", st, err)
	}
	if err := m.Start(ctx, "../../"+e2eEnv("SZ_E2E_FOREIGN_UNIT", "systemd-journald.service")); err == nil {
		t.Fatal("the Manager passed a foreign unit name")
	}

	raw, err := sdbus.NewSystemConnectionContext(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	foreign := e2eEnv("SZ_E2E_FOREIGN_UNIT", "systemd-journald.service")
	// The verbs the Manager uses besides start and stop, asked directly.
	allowed := map[string]func() error{
		"reset-failed " + governor.UnitName(name): func() error { return raw.ResetFailedUnitContext(ctx, governor.UnitName(name)) },
		"kill -CONT " + governor.UnitName(name): func() error {
			return raw.KillUnitWithTarget(ctx, governor.UnitName(name), sdbus.Main, int32(syscall.SIGCONT))
		},
	}
	for what, call := range allowed {
		if err := call(); err != nil {
			t.Errorf("%s as uid %d: %v", what, os.Getuid(), err)
		}
	}
	refusals := map[string]func() error{
		"reset-failed " + foreign: func() error { return raw.ResetFailedUnitContext(ctx, foreign) },
		"kill -CONT " + foreign: func() error {
			return raw.KillUnitWithTarget(ctx, foreign, sdbus.Main, int32(syscall.SIGCONT))
		},
		"restart " + foreign: func() error {
			_, err := raw.RestartUnitContext(ctx, foreign, "replace", nil)
			return err
		},
		"stop " + foreign: func() error {
			_, err := raw.StopUnitContext(ctx, foreign, "replace", nil)
			return err
		},
		"start schedulezero-scheduler.service": func() error {
			_, err := raw.StartUnitContext(ctx, "schedulezero-scheduler.service", "replace", nil)
			return err
		},
		"daemon-reload": func() error { return raw.ReloadContext(ctx) },
		// Unit files directly, even the handler's own: manage-unit-files
		// would imply manage-units for every unit (see the rule).
		"enable-unit-files " + governor.UnitName(name): func() error {
			_, _, err := raw.EnableUnitFilesContext(ctx, []string{governor.UnitName(name)}, false, true)
			return err
		},
		"link-unit-files /tmp/evil.service": func() error {
			_, err := raw.LinkUnitFilesContext(ctx, []string{"/tmp/evil.service"}, false, true)
			return err
		},
	}
	for what, call := range refusals {
		err := call()
		if err == nil {
			t.Errorf("%s as uid %d was allowed; polkit must refuse it", what, os.Getuid())
			continue
		}
		if !isDenied(err) {
			t.Errorf("%s: %v, want access denied", what, err)
			continue
		}
		t.Logf("refused as expected: %s: %v", what, err)
	}
}

// isDenied reports whether PID 1 refused the call for want of
// authorization (polkit said no, and no agent may ask).
func isDenied(err error) bool {
	var de dbus.Error
	return errors.As(err, &de) && (de.Name == "org.freedesktop.DBus.Error.AccessDenied" ||
		de.Name == "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired")
}
