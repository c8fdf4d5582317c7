package governor

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/schedulezero/schedulezero/pkg/field"
	"github.com/schedulezero/schedulezero/pkg/handlername"
)

// ProcessOptions configure a ProcessManager.
type ProcessOptions struct {
	// Binary is the schedulezero-handler executable. Required.
	Binary string
	// ConfigDir holds NAME.json, passed to the child as --config.
	ConfigDir string
	// Env is added to the children's environment.
	Env []string
	// Output receives the children's stdout and stderr; default os.Stderr.
	Output io.Writer
	Logger *slog.Logger
}

// ProcessManager is the UnitManager of hosts without systemd: each
// handler is a child process `Binary --name NAME --config DIR/NAME.json`
// in its own process group, with SIGKILL as its parent-death signal, so
// that no handler outlives the governor. States use systemd's vocabulary.
type ProcessManager struct {
	opts   ProcessOptions
	logger *slog.Logger

	mu      sync.Mutex
	procs   map[string]*proc
	states  map[string]UnitState
	enabled map[string]bool
	subs    map[chan UnitState]struct{}
	wg      sync.WaitGroup
}

type proc struct {
	cmd      *exec.Cmd
	done     chan struct{}
	stopping bool
}

var _ UnitManager = (*ProcessManager)(nil)

// NewProcessManager returns a ProcessManager; it spawns nothing yet.
func NewProcessManager(opts ProcessOptions) (*ProcessManager, error) {
	if opts.Binary == "" {
		return nil, errors.New("governor: ProcessOptions.Binary is required")
	}
	if opts.Output == nil {
		opts.Output = os.Stderr
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &ProcessManager{opts: opts, logger: opts.Logger.With("component", "process"),
		procs: map[string]*proc{}, states: map[string]UnitState{}, enabled: map[string]bool{},
		subs: map[chan UnitState]struct{}{}}, nil
}

func (m *ProcessManager) setLocked(st UnitState) {
	st.Enabled = m.enabled[st.Name]
	m.states[st.Name] = st
	for ch := range m.subs {
		select {
		case ch <- st:
		default: // best effort; readers re-read State
		}
	}
}

// Start spawns the handler unless it runs.
func (m *ProcessManager) Start(ctx context.Context, name string) error {
	if err := field.Prefix("name", handlername.Check(name)); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.procs[name]; ok {
		return nil
	}
	cmd := exec.Command(m.opts.Binary, "--name", name, "--config", filepath.Join(m.opts.ConfigDir, name+".json"))
	cmd.Env = append(childEnv(os.Environ()), m.opts.Env...)
	cmd.Stdout, cmd.Stderr = m.opts.Output, m.opts.Output
	// Setpgid: stop signals reach the handler's own children (exec jobs).
	// Pdeathsig: if the governor dies without stopping, the kernel kills
	// the handler; Go never retires the forking thread of an unlocked
	// goroutine, so the signal is tied to the governor's life.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		m.setLocked(UnitState{Name: name, Unit: UnitName(name), ActiveState: StateFailed, SubState: "failed",
			Since: time.Now(), Result: "resources"})
		return fmt.Errorf("handler %q: spawn %s: %w", name, m.opts.Binary, err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	m.procs[name] = p
	m.setLocked(UnitState{Name: name, Unit: UnitName(name), ActiveState: StateActive, SubState: "running",
		MainPID: cmd.Process.Pid, Since: time.Now()})
	m.logger.Info("handler spawned", "handler", name, "pid", cmd.Process.Pid)
	m.wg.Add(1)
	go m.reap(name, p)
	return nil
}

// childEnv drops the governor's own systemd variables: a handler must not
// notify or feed the governor's watchdog, nor claim its sockets.
func childEnv(env []string) []string {
	out := env[:0:0]
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES":
			continue
		}
		out = append(out, kv)
	}
	return out
}

// reap waits for a child and records how it ended.
func (m *ProcessManager) reap(name string, p *proc) {
	defer m.wg.Done()
	err := p.cmd.Wait()
	pid := p.cmd.Process.Pid
	_ = syscall.Kill(-pid, syscall.SIGKILL) // leftovers of its process group
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.procs, name)
	st := UnitState{Name: name, Unit: UnitName(name), ActiveState: StateInactive, SubState: "dead",
		Since: time.Now(), Result: "success"}
	if !p.stopping {
		st.ActiveState, st.SubState = StateFailed, "failed"
		st.Result, st.Exit = exitResult(err)
		m.logger.Warn("handler exited", "handler", name, "pid", pid, "err", err)
	}
	m.setLocked(st)
	close(p.done)
}

// exitResult names how a process ended as systemd does: the Result
// ("exit-code", "signal", "core-dump") and the detail ("status 1",
// "signal SIGKILL").
func exitResult(err error) (result, detail string) {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			result = "signal"
			if ws.CoreDump() {
				result = "core-dump"
			}
			return result, "signal " + unix.SignalName(ws.Signal())
		}
		return "exit-code", "status " + strconv.Itoa(ee.ExitCode())
	}
	if err == nil {
		return "exit-code", "status 0"
	}
	return "resources", err.Error()
}

// Stop sends SIGTERM (and SIGCONT, so a stopped handler can act on it) to
// the handler's process group, then SIGKILL after timeout or when ctx
// ends, and waits until the handler was reaped.
func (m *ProcessManager) Stop(ctx context.Context, name string, timeout time.Duration) error {
	m.mu.Lock()
	p, ok := m.procs[name]
	if !ok {
		m.mu.Unlock()
		return nil
	}
	p.stopping = true
	pid := p.cmd.Process.Pid
	if st, ok := m.states[name]; ok && st.Running() {
		st.ActiveState, st.SubState = StateDeactivating, "stop-sigterm"
		m.setLocked(st)
	}
	m.mu.Unlock()
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	_ = syscall.Kill(-pid, syscall.SIGCONT)
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-p.done:
		return nil
	case <-t.C:
		m.logger.Warn("handler ignored SIGTERM; killing", "handler", name, "pid", pid, "timeout", timeout)
	case <-ctx.Done():
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	// A SIGKILLed child is reaped at once; bound the wait all the same.
	k := time.NewTimer(5 * time.Second)
	defer k.Stop()
	select {
	case <-p.done:
		return nil
	case <-k.C:
		return fmt.Errorf("handler %q: pid %d not reaped after SIGKILL", name, pid)
	}
}

// SetEnabled records the wish; processes have no boot to start at, so it
// only shows in State.
func (m *ProcessManager) SetEnabled(_ context.Context, name string, enabled bool) error {
	if err := field.Prefix("name", handlername.Check(name)); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.enabled[name] = enabled
	if st, ok := m.states[name]; ok {
		m.setLocked(st)
	}
	return nil
}

// State reports the handler; an unknown one is inactive.
func (m *ProcessManager) State(_ context.Context, name string) (UnitState, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	st, ok := m.states[name]
	if !ok {
		st = UnitState{Name: name, Unit: UnitName(name), ActiveState: StateInactive, SubState: "dead"}
	}
	st.Enabled = m.enabled[name]
	if st.MainPID > 0 {
		st.MemoryBytes = rss(st.MainPID)
	}
	return st, nil
}

// rss reads a process's resident set size from /proc; 0 when unknown.
func rss(pid int) uint64 {
	f, err := os.Open(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0
	}
	defer f.Close() //nolint:errcheck // read-only
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// Watch delivers state changes until ctx is done.
func (m *ProcessManager) Watch(ctx context.Context) (<-chan UnitState, error) {
	ch := make(chan UnitState, 64)
	m.mu.Lock()
	m.subs[ch] = struct{}{}
	m.mu.Unlock()
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		<-ctx.Done()
		m.mu.Lock()
		delete(m.subs, ch)
		close(ch)
		m.mu.Unlock()
	}()
	return ch, nil
}

// Close stops every handler, each within timeout, and waits for the
// manager's goroutines; Watch contexts must be done by then.
func (m *ProcessManager) Close(ctx context.Context, timeout time.Duration) error {
	m.mu.Lock()
	names := make([]string, 0, len(m.procs))
	for n := range m.procs {
		names = append(names, n)
	}
	m.mu.Unlock()
	var (
		wg   sync.WaitGroup
		emu  sync.Mutex
		errs []error
	)
	for _, n := range names {
		wg.Go(func() {
			if err := m.Stop(ctx, n, timeout); err != nil {
				emu.Lock()
				errs = append(errs, err)
				emu.Unlock()
			}
		})
	}
	wg.Wait()
	m.wg.Wait()
	return errors.Join(errs...)
}
