package governor_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/governor"
	"github.com/schedulezero/schedulezero/pkg/governor/governortest"
	"github.com/schedulezero/schedulezero/pkg/handlername"
)

// runSupervisor starts a Supervisor with opts and stops it when the test
// ends; ctx bounds the test.
func runSupervisor(t *testing.T, opts governor.Options) (sup *governor.Supervisor, ctx context.Context) {
	t.Helper()
	sup, err := governor.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	if err := sup.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := sup.Stop(context.Background(), time.Second); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return sup, ctx
}

// setupFake runs a Supervisor over the fake units with a scripted ping.
func setupFake(t *testing.T, pingErr *atomic.Pointer[error]) (*governor.Supervisor, *governortest.Fake, *logBuf, context.Context) {
	t.Helper()
	fake := governortest.NewFake()
	logs := &logBuf{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("log:\n%s", logs.String())
		}
	})
	sup, ctx := runSupervisor(t, governor.Options{Units: fake, Backend: "fake", ConfigDir: t.TempDir(),
		CheckInterval: 20 * time.Millisecond, FailedChecks: 2, Logger: newLogger(logs),
		EndpointFunc: func(name string) (string, error) { return "ipc://unused-" + name, nil },
		PingFunc: func(context.Context, string, string) error {
			if p := pingErr.Load(); p != nil {
				return *p
			}
			return nil
		},
		SchedulerViewFunc: func(context.Context) (map[string]string, error) {
			return map[string]string{"h": "online"}, nil
		}})
	return sup, fake, logs, ctx
}

func TestSupervisor_Fake_HangRestartsWithinBudget(t *testing.T) {
	var pingErr atomic.Pointer[error]
	sup, fake, logs, ctx := setupFake(t, &pingErr)
	if _, err := sup.AddHandler(ctx, governor.HandlerConfig{Name: "h", Kind: "dingaling", MaxRestarts: 2,
		RestartDelay: handlername.Duration(5 * time.Millisecond)}); err != nil {
		t.Fatal(err)
	}
	hi := awaitInfo(t, ctx, sup, "h", "healthy and registered", func(h governor.HandlerInfo) bool {
		return h.Healthy && h.Registered == "online"
	})
	if hi.Health.ErrorRate != 0 {
		t.Fatalf("error rate %v with every ping answered", hi.Health.ErrorRate)
	}
	hang := errors.New("no answer")
	pingErr.Store(&hang)
	awaitInfo(t, ctx, sup, "h", "given up", func(h governor.HandlerInfo) bool {
		return h.Restarts == 2 && strings.Contains(h.LastError, "restart budget exhausted") && h.State == governor.StateInactive
	})
	if got := fake.Starts("h"); got != 3 {
		t.Fatalf("starts = %d, want 1 + 2 restarts", got)
	}
	awaitLog(t, ctx, logs, "handler restarted", "handler=h", `reason="hung: 2 consecutive failed pings, last: no answer"`, "restarts=1")
	awaitLog(t, ctx, logs, "restart budget exhausted", "handler=h", "restarts=2")
	hc, err := sup.HealthCheck(ctx)
	if err != nil || hc["h"] {
		t.Fatalf("HealthCheck = %v, %v; want h unhealthy", hc, err)
	}
}

func TestSupervisor_Fake_AutoRestartOff(t *testing.T) {
	var pingErr atomic.Pointer[error]
	sup, fake, logs, ctx := setupFake(t, &pingErr)
	off := false
	if _, err := sup.AddHandler(ctx, governor.HandlerConfig{Name: "h", Kind: "dingaling", AutoRestart: &off}); err != nil {
		t.Fatal(err)
	}
	if err := fake.Crash(ctx, "h"); err != nil {
		t.Fatal(err)
	}
	awaitLog(t, ctx, logs, "auto-restart is off", "handler=h")
	if got := fake.Starts("h"); got != 1 {
		t.Fatalf("starts = %d, want 1", got)
	}
}

func TestSupervisor_Fake_NotFound(t *testing.T) {
	var pingErr atomic.Pointer[error]
	sup, _, _, ctx := setupFake(t, &pingErr)
	for name, err := range map[string]error{
		"status":  func() error { _, err := sup.HandlerStatus(ctx, "nope"); return err }(),
		"remove":  sup.RemoveHandler(ctx, "nope", time.Second),
		"start":   sup.StartHandler(ctx, "nope"),
		"stop":    sup.StopHandler(ctx, "nope", time.Second),
		"restart": sup.RestartHandler(ctx, "nope"),
	} {
		if !errors.Is(err, governor.ErrNotFound) {
			t.Errorf("%s = %v, want ErrNotFound", name, err)
		}
	}
}

// TestSupervisor_Fake_BackendRestartsSpendBudget is systemd's
// Restart=on-failure seen from the governor: each restart the backend does
// by itself is logged with its reason and spends the handler's budget;
// once it is spent, the governor stops the unit, which cancels the
// backend's pending restart.
func TestSupervisor_Fake_BackendRestartsSpendBudget(t *testing.T) {
	var pingErr atomic.Pointer[error]
	sup, fake, logs, ctx := setupFake(t, &pingErr)
	if _, err := sup.AddHandler(ctx, governor.HandlerConfig{Name: "h", Kind: "dingaling", MaxRestarts: 2}); err != nil {
		t.Fatal(err)
	}
	awaitInfo(t, ctx, sup, "h", "healthy", healthy)
	for i := 1; i <= 2; i++ {
		if err := fake.CrashRestarting(ctx, "h"); err != nil {
			t.Fatal(err)
		}
		awaitLog(t, ctx, logs, "handler crashed; the service manager restarts it", "handler=h",
			`reason="crashed: signal (signal SIGKILL)"`, fmt.Sprintf("restarts=%d", i-1))
		if !fake.Restarted("h") {
			t.Fatalf("crash %d: the governor cancelled a restart within budget", i)
		}
		awaitLog(t, ctx, logs, "handler restarted by the service manager", "handler=h", fmt.Sprintf("restarts=%d", i))
		awaitInfo(t, ctx, sup, "h", "healthy again", func(h governor.HandlerInfo) bool { return h.Healthy && h.Restarts == i })
	}
	if err := fake.CrashRestarting(ctx, "h"); err != nil {
		t.Fatal(err)
	}
	hi := awaitInfo(t, ctx, sup, "h", "stopped for good", func(h governor.HandlerInfo) bool {
		return h.State == governor.StateInactive && strings.Contains(h.LastError, governor.ErrBudgetExhausted.Error())
	})
	if hi.Restarts != 2 || fake.Restarted("h") {
		t.Fatalf("after the budget: %+v; the pending restart must be cancelled", hi)
	}
	awaitLog(t, ctx, logs, "restart budget exhausted", "handler=h", "restarts=2", "max_restarts=2")
	if got := fake.Starts("h"); got != 3 {
		t.Fatalf("starts = %d, want 1 by the governor + 2 by the backend", got)
	}
	// An operator restart gives a fresh budget.
	if err := sup.RestartHandler(ctx, "h"); err != nil {
		t.Fatal(err)
	}
	awaitInfo(t, ctx, sup, "h", "healthy after the operator's restart", func(h governor.HandlerInfo) bool {
		return h.Healthy && h.Restarts == 0 && h.LastError == ""
	})
}

// The Supervisor reads time only from Options.NowFunc: a handler's last
// check and the loop's heartbeat carry the given clock's time, here a
// clock running in 2001.
func TestSupervisor_Fake_ClockFromOptions(t *testing.T) {
	at, start := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC), time.Now()
	clock := func() time.Time { return at.Add(time.Since(start)) }
	sup, ctx := runSupervisor(t, governor.Options{Units: governortest.NewFake(), Backend: "fake", ConfigDir: t.TempDir(),
		CheckInterval: 20 * time.Millisecond, NowFunc: clock,
		EndpointFunc: func(name string) (string, error) { return "ipc://unused-" + name, nil },
		PingFunc:     func(context.Context, string, string) error { return nil }})
	if _, err := sup.AddHandler(ctx, governor.HandlerConfig{Name: "h", Kind: "dingaling"}); err != nil {
		t.Fatal(err)
	}
	hi := awaitInfo(t, ctx, sup, "h", "checked once", func(h governor.HandlerInfo) bool { return h.Health.Checks > 0 })
	if hi.Health.LastSeen.Year() != 2001 || sup.Heartbeat().Year() != 2001 {
		t.Errorf("last seen %v, heartbeat %v; want both in 2001", hi.Health.LastSeen, sup.Heartbeat())
	}
}
