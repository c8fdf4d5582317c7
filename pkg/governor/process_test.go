package governor_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/governor"
	"github.com/schedulezero/schedulezero/pkg/governor/governortest"
	"github.com/schedulezero/schedulezero/pkg/handlername"
	"github.com/schedulezero/schedulezero/pkg/wire"
	"github.com/schedulezero/schedulezero/pkg/wire/wiretest"
)

// newProcessManager returns a ProcessManager of the built handler whose
// children are stopped when the test ends.
func newProcessManager(t *testing.T, bin, dir string) *governor.ProcessManager {
	t.Helper()
	pm, err := governor.NewProcessManager(governor.ProcessOptions{Binary: bin, ConfigDir: dir, Output: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := pm.Close(ctx, 5*time.Second); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return pm
}

func TestProcessManager_Conformance(t *testing.T) {
	governortest.Exercise(t, func(t *testing.T) governortest.Harness {
		dir := t.TempDir()
		sched := wiretest.Serve(t, wiretest.NewRegistry())
		return governortest.Harness{
			Units: newProcessManager(t, handlerBin, dir),
			Prepare: func(t *testing.T, name string) {
				cfg := fmt.Sprintf(`{"kind":"dingaling","endpoint":%q,"scheduler":%q}`,
					wiretest.IPC(t, name+".sock"), sched.Addr())
				if err := os.WriteFile(filepath.Join(dir, name+".json"), []byte(cfg), 0o644); err != nil {
					t.Fatal(err)
				}
			},
		}
	})
}

// alive reports whether pid is a live (not zombie) process.
func alive(pid int) bool {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	// state is the field after the ")" that ends the command name.
	for i := len(b) - 1; i > 0; i-- {
		if b[i] == ')' && i+2 < len(b) {
			return b[i+2] != 'Z' && b[i+2] != 'X'
		}
	}
	return true
}

type procBundle struct {
	sup  *governor.Supervisor
	pm   *governor.ProcessManager
	reg  *wiretest.Registry
	srv  *wire.Server
	logs *logBuf
	dir  string
	ctx  context.Context
	told chan string // the handlers the scheduler was told were removed
}

// setupProcess starts a Supervisor over real handler processes that
// register with a real wire server.
func setupProcess(t *testing.T, bin string) *procBundle {
	t.Helper()
	b := &procBundle{reg: wiretest.NewRegistry(), logs: &logBuf{}, dir: t.TempDir(), told: make(chan string, 8)}
	b.srv = wiretest.Serve(t, b.reg)
	b.pm = newProcessManager(t, bin, b.dir)
	sup, err := governor.New(governor.Options{Units: b.pm, Backend: "process", ConfigDir: b.dir,
		Scheduler: b.srv.Addr(), CheckInterval: 100 * time.Millisecond, PingTimeout: 300 * time.Millisecond,
		FailedChecks: 3, StopTimeout: 2 * time.Second, OwnsHandlers: true, Logger: newLogger(b.logs),
		SchedulerRemoveFunc: func(_ context.Context, name string) error { b.told <- name; return nil }})
	if err != nil {
		t.Fatal(err)
	}
	b.sup = sup
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	b.ctx = ctx
	if err := sup.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer scancel()
		if err := sup.Stop(sctx, 5*time.Second); err != nil {
			t.Errorf("stop: %v", err)
		}
		if t.Failed() {
			t.Logf("governor log:\n%s", b.logs.String())
		}
	})
	return b
}

// awaitInfo polls the handler's status until cond holds.
func awaitInfo(t *testing.T, ctx context.Context, g *governor.Supervisor, name string, what string, cond func(governor.HandlerInfo) bool) governor.HandlerInfo {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.Now().Add(20 * time.Second)
	for {
		hi, err := g.HandlerStatus(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if cond(hi) {
			return hi
		}
		if time.Now().After(deadline) {
			t.Fatalf("handler %q: not %s within 20s; last %+v", name, what, hi)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("handler %q: not %s: %v", name, what, ctx.Err())
		case <-tick.C:
		}
	}
}

func awaitLog(t *testing.T, ctx context.Context, logs *logBuf, parts ...string) {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.Now().Add(20 * time.Second)
	for !logs.Contains(parts...) {
		if time.Now().After(deadline) {
			t.Fatalf("no log line with %q", parts)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no log line with %q: %v", parts, ctx.Err())
		case <-tick.C:
		}
	}
}

func healthy(hi governor.HandlerInfo) bool { return hi.Healthy }

func TestSupervisor_Process_Lifecycle(t *testing.T) {
	b := setupProcess(t, handlerBin)
	hi, err := b.sup.AddHandler(b.ctx, governor.HandlerConfig{Name: "ding", Kind: "dingaling",
		RestartDelay: handlername.Duration(50 * time.Millisecond)})
	if err != nil {
		t.Fatal(err)
	}
	if hi.PID <= 0 || hi.State != governor.StateActive || !hi.Enabled {
		t.Fatalf("after add: %+v, want an active enabled process", hi)
	}
	if _, err := os.Stat(filepath.Join(b.dir, "ding.json")); err != nil {
		t.Fatalf("config not written: %v", err)
	}
	if err := b.reg.Await(b.ctx, func(r *wiretest.Registry) bool { _, _, ok := r.Handler("ding"); return ok }); err != nil {
		t.Fatal(err)
	}
	hi = awaitInfo(t, b.ctx, b.sup, "ding", "healthy", healthy)
	if hi.Health.LatencyEWMA <= 0 || hi.Health.P99 <= 0 || hi.Health.LastSeen.IsZero() {
		t.Fatalf("health not measured: %+v", hi.Health)
	}
	if _, err := b.sup.AddHandler(b.ctx, governor.HandlerConfig{Name: "ding", Kind: "dingaling"}); !errors.Is(err, governor.ErrExists) {
		t.Fatalf("second add = %v, want ErrExists", err)
	}

	t.Run("SIGKILL is a crash", func(t *testing.T) {
		old := hi.PID
		regs := b.reg.Registrations()
		if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		hi = awaitInfo(t, b.ctx, b.sup, "ding", "restarted", func(h governor.HandlerInfo) bool {
			return h.PID != old && h.PID > 0 && h.Healthy
		})
		if hi.Restarts != 1 {
			t.Fatalf("restarts = %d, want 1", hi.Restarts)
		}
		awaitLog(t, b.ctx, b.logs, "handler restarted", "handler=ding", "crashed", "restarts=1")
		if err := b.reg.Await(b.ctx, func(r *wiretest.Registry) bool { return r.Registrations() > regs }); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("SIGSTOP is a hang", func(t *testing.T) {
		old := hi.PID
		if err := syscall.Kill(old, syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		hi = awaitInfo(t, b.ctx, b.sup, "ding", "restarted", func(h governor.HandlerInfo) bool {
			return h.PID != old && h.PID > 0 && h.Healthy
		})
		awaitLog(t, b.ctx, b.logs, "handler restarted", "handler=ding", "hung: 3 consecutive failed pings", "restarts=2")
		if alive(old) {
			t.Fatalf("frozen pid %d survived its restart", old)
		}
	})

	t.Run("stop and start", func(t *testing.T) {
		old := hi.PID
		if err := b.sup.StopHandler(b.ctx, "ding", 2*time.Second); err != nil {
			t.Fatal(err)
		}
		st, err := b.sup.HandlerStatus(b.ctx, "ding")
		if err != nil {
			t.Fatal(err)
		}
		if st.State != governor.StateInactive || alive(old) {
			t.Fatalf("after stop: %+v (pid %d alive %v)", st, old, alive(old))
		}
		if err := b.sup.StartHandler(b.ctx, "ding"); err != nil {
			t.Fatal(err)
		}
		hi = awaitInfo(t, b.ctx, b.sup, "ding", "healthy", healthy)
		if hi.Restarts != 0 {
			t.Fatalf("an operator start must reset the budget; restarts = %d", hi.Restarts)
		}
	})

	t.Run("remove leaves no process", func(t *testing.T) {
		pid := hi.PID
		if err := b.sup.RemoveHandler(b.ctx, "ding", 2*time.Second); err != nil {
			t.Fatal(err)
		}
		if alive(pid) {
			t.Fatalf("pid %d alive after remove", pid)
		}
		select {
		case name := <-b.told:
			if name != "ding" {
				t.Fatalf("scheduler told %q was removed, want ding", name)
			}
		default:
			t.Fatal("the scheduler was not told of the removal: it would keep the handler offline forever")
		}
		if _, err := b.sup.HandlerStatus(b.ctx, "ding"); !errors.Is(err, governor.ErrNotFound) {
			t.Fatalf("status after remove = %v, want ErrNotFound", err)
		}
		for _, f := range []string{"ding.json", "ding.governor"} {
			if _, err := os.Stat(filepath.Join(b.dir, f)); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("%s left behind: %v", f, err)
			}
		}
		if err := b.sup.RemoveHandler(b.ctx, "ding", time.Second); !errors.Is(err, governor.ErrNotFound) {
			t.Fatalf("second remove = %v, want ErrNotFound", err)
		}
	})
}

func TestSupervisor_Process_CrashLoopSpendsBudget(t *testing.T) {
	// A handler binary that exits at once: every restart crashes again.
	falseBin, err := exec.LookPath("false")
	if err != nil {
		t.Skip("no false(1) on PATH")
	}
	b := setupProcess(t, falseBin)
	if _, err := b.sup.AddHandler(b.ctx, governor.HandlerConfig{Name: "loop", Kind: "dingaling",
		MaxRestarts: 3, RestartDelay: handlername.Duration(10 * time.Millisecond)}); err != nil {
		t.Fatal(err)
	}
	hi := awaitInfo(t, b.ctx, b.sup, "loop", "given up", func(h governor.HandlerInfo) bool {
		return h.Restarts == 3 && h.State == governor.StateFailed &&
			strings.Contains(h.LastError, governor.ErrBudgetExhausted.Error())
	})
	awaitLog(t, b.ctx, b.logs, "restart budget exhausted", "handler=loop", "restarts=3")
	// The budget holds: no further restart happens while checks go on.
	awaitLog(t, b.ctx, b.logs, "restarts=2", "handler restarted")
	n := hi.Restarts
	for range 5 {
		b.sup.HandlerStatus(b.ctx, "loop") //nolint:errcheck // just time passing through checks
	}
	if hi, _ = b.sup.HandlerStatus(b.ctx, "loop"); hi.Restarts != n {
		t.Fatalf("restarts went on after the budget: %d -> %d", n, hi.Restarts)
	}
	// An operator restart gives a fresh budget.
	if err := b.sup.RestartHandler(b.ctx, "loop"); err != nil {
		t.Fatal(err)
	}
	awaitLog(t, b.ctx, b.logs, "handler restarted by operator", "handler=loop")
}

func TestSupervisor_Process_StopLeavesNoOrphan(t *testing.T) {
	b := setupProcess(t, handlerBin)
	var pids []int
	for _, n := range []string{"a", "b", "c"} {
		hi, err := b.sup.AddHandler(b.ctx, governor.HandlerConfig{Name: n, Kind: "dingaling"})
		if err != nil {
			t.Fatal(err)
		}
		pids = append(pids, hi.PID)
	}
	for _, n := range []string{"a", "b", "c"} {
		awaitInfo(t, b.ctx, b.sup, n, "healthy", healthy)
	}
	m, err := b.sup.Metrics(b.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if m.TotalServices != 3 || m.HealthyServices != 3 || !m.Running || m.Backend != "process" {
		t.Fatalf("metrics = %+v", m)
	}
	// One handler frozen: Stop must still get rid of it (SIGKILL after
	// the timeout).
	if err := syscall.Kill(pids[0], syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	if err := b.sup.Stop(b.ctx, 500*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	for _, pid := range pids {
		if alive(pid) {
			t.Errorf("pid %d outlived the governor", pid)
		}
	}
	// The records stay: a new Supervisor starts the same handlers.
	sup2, err := governor.New(governor.Options{Units: b.pm, ConfigDir: b.dir, OwnsHandlers: true,
		CheckInterval: 100 * time.Millisecond, Logger: newLogger(b.logs)})
	if err != nil {
		t.Fatal(err)
	}
	if err := sup2.Start(b.ctx); err != nil {
		t.Fatal(err)
	}
	defer sup2.Stop(context.Background(), 5*time.Second) //nolint:errcheck // checked by the pid test below
	list, err := sup2.ListHandlers(b.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 3 || list[0].Name != "a" || list[0].State != governor.StateActive {
		t.Fatalf("restarted governor lists %+v", list)
	}
}
