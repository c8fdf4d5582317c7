package governor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/schedulezero/schedulezero/pkg/wire"
)

// Defaults of Options.
const (
	DefaultCheckInterval = 5 * time.Second
	DefaultFailedChecks  = 3
	DefaultStopTimeout   = 10 * time.Second
	// DefaultScheduler is the registration endpoint written into a handler's
	// config when neither the handler nor Options name one.
	DefaultScheduler = "tcp://127.0.0.1:4242"
)

// Options configure a Supervisor.
type Options struct {
	// Units is the backend. Required.
	Units UnitManager
	// Backend names it in Metrics ("systemd", "process").
	Backend string
	// ConfigDir holds NAME.json (read by the handler) and NAME.governor
	// (the governor's record). Required.
	ConfigDir string
	// Scheduler is the registration endpoint given to handlers that name
	// none.
	Scheduler string
	// Deployment names this deployment in Metrics.
	Deployment string
	// CheckInterval is how often every handler is pinged.
	CheckInterval time.Duration
	// PingTimeout bounds one ping; default half the CheckInterval, at
	// most 2s.
	PingTimeout time.Duration
	// FailedChecks consecutive failed pings make a handler hung.
	FailedChecks int
	// StopTimeout is the SIGTERM-to-SIGKILL wait of restarts.
	StopTimeout time.Duration
	// OwnsHandlers stops every handler when the Supervisor stops: true
	// for the process backend, whose handlers are its children; false for
	// systemd, whose units outlive the governor.
	OwnsHandlers bool
	// PingFunc pings a handler's job socket; default: a wire "ping".
	PingFunc func(ctx context.Context, name, endpoint string) error
	// SchedulerViewFunc returns the scheduler's status of each registered
	// handler by id; nil or an error skips that view.
	SchedulerViewFunc func(ctx context.Context) (map[string]string, error)
	// SchedulerRemoveFunc tells the scheduler that a handler was removed
	// (RemoveHandler), so that it stops listing it and records the fires
	// of its schedules as missed; nil tells nobody. Its error is logged:
	// the removal stands either way.
	SchedulerRemoveFunc func(ctx context.Context, name string) error
	// EndpointFunc picks a job endpoint for a handler added without one;
	// default: a free TCP port on 127.0.0.1.
	EndpointFunc func(name string) (string, error)
	// ImplicitEndpoint is the job endpoint a handler binds when its config
	// file names none (under systemd: config.RuntimeEndpoint), so that a
	// hand-written NAME.json is pinged too; nil: such a handler is judged
	// by its unit state alone.
	ImplicitEndpoint func(name string) string
	// NowFunc is the clock of health checks, restart delays and the
	// heartbeat; default time.Now. Tests give a fake one.
	NowFunc func() time.Time
	Logger  *slog.Logger
}

func (o *Options) setDefaults() {
	if o.CheckInterval <= 0 {
		o.CheckInterval = DefaultCheckInterval
	}
	if o.PingTimeout <= 0 {
		o.PingTimeout = min(o.CheckInterval/2, 2*time.Second)
	}
	if o.FailedChecks <= 0 {
		o.FailedChecks = DefaultFailedChecks
	}
	if o.StopTimeout <= 0 {
		o.StopTimeout = DefaultStopTimeout
	}
	if o.Scheduler == "" {
		o.Scheduler = DefaultScheduler
	}
	if o.Deployment == "" {
		o.Deployment = "default"
	}
	if o.EndpointFunc == nil {
		o.EndpointFunc = freeTCPEndpoint
	}
	if o.NowFunc == nil {
		o.NowFunc = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

func (s *Supervisor) now() time.Time { return s.opts.NowFunc() }

// freeTCPEndpoint asks the kernel for a free loopback port.
func freeTCPEndpoint(string) (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("pick an endpoint: %w", err)
	}
	defer l.Close() //nolint:errcheck // only the port number was wanted
	return "tcp://" + l.Addr().String(), nil
}

// entry is the Supervisor's state of one handler.
type entry struct {
	rec      record
	restarts int // restarts by the governor since add or a manual restart
	// backendRestarts counts the restarts the backend did by itself
	// (systemd's Restart=on-failure) since add or a manual restart; they
	// spend the same budget. seenNRestarts is the backend's NRestarts at
	// the last look; systemd resets it when the governor starts the unit.
	backendRestarts int
	seenNRestarts   int
	crashLogged     bool // the current backend restart was logged
	lastError       string
	nextRestart     time.Time // a restart is due then; zero: none pending
	reason          string    // why the pending restart
	gaveUp          bool      // the restart budget is spent
	started         time.Time // when the governor last started it
	health          tracker
	registered      string
	conn            *wire.Conn
}

// Supervisor implements Governor over a UnitManager: it keeps the desired
// handlers running and restarts crashed or hung ones within their budget.
type Supervisor struct {
	opts   Options
	logger *slog.Logger

	ops sync.Mutex // serialises every change to units
	mu  sync.Mutex // guards the fields below
	hs  map[string]*entry

	running   bool
	cancel    context.CancelFunc
	done      chan struct{}
	heartbeat atomic.Int64 // unix nanos of the loop's last turn
	kick      chan struct{}
	bg        sync.WaitGroup // background stops of given-up handlers
}

var _ Governor = (*Supervisor)(nil)

// New returns a Supervisor; nothing runs until Start.
func New(opts Options) (*Supervisor, error) {
	if opts.Units == nil {
		return nil, errors.New("governor: Options.Units is required")
	}
	if opts.ConfigDir == "" {
		return nil, errors.New("governor: Options.ConfigDir is required")
	}
	opts.setDefaults()
	return &Supervisor{opts: opts, logger: opts.Logger.With("component", "governor"),
		hs: map[string]*entry{}, kick: make(chan struct{}, 1)}, nil
}

// Start loads the handlers of ConfigDir, starts those not stopped by an
// operator, and begins health checks. It returns once they were started.
func (s *Supervisor) Start(ctx context.Context) error {
	s.mu.Lock()
	if s.running {
		s.mu.Unlock()
		return nil
	}
	s.mu.Unlock()
	recs, err := loadRecords(s.opts.ConfigDir)
	if err != nil {
		return err
	}
	loopCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	watch, err := s.opts.Units.Watch(loopCtx)
	if err != nil {
		cancel()
		return fmt.Errorf("watch units: %w", err)
	}
	s.mu.Lock()
	for i, r := range recs {
		if r.Config.Endpoint == "" && s.opts.ImplicitEndpoint != nil {
			r.Config.Endpoint = s.opts.ImplicitEndpoint(r.Config.Name)
			recs[i] = r
		}
		if _, ok := s.hs[r.Config.Name]; !ok {
			s.hs[r.Config.Name] = &entry{rec: r}
		}
	}
	s.running, s.cancel, s.done = true, cancel, make(chan struct{})
	s.heartbeat.Store(s.now().UnixNano())
	s.mu.Unlock()
	var errs []error
	for _, r := range recs {
		if r.Stopped {
			continue
		}
		if err := s.startUnit(ctx, r.Config.Name); err != nil {
			errs = append(errs, err)
		}
	}
	go s.loop(loopCtx, watch)
	s.logger.Info("governor started", "backend", s.opts.Backend, "handlers", len(recs))
	return errors.Join(errs...)
}

// startUnit starts a handler and notes when.
func (s *Supervisor) startUnit(ctx context.Context, name string) error {
	s.mu.Lock()
	if e, ok := s.hs[name]; ok {
		e.started = s.now()
		e.health.reset()
		e.crashLogged = false
	}
	s.mu.Unlock()
	if err := s.opts.Units.Start(ctx, name); err != nil {
		return fmt.Errorf("handler %q: start: %w", name, err)
	}
	// The backend's restart count from here on is what spends the
	// budget: systemd resets NRestarts on a start of a stopped unit but
	// not of one that runs already.
	if st, err := s.opts.Units.State(ctx, name); err == nil {
		s.mu.Lock()
		if e, ok := s.hs[name]; ok {
			e.seenNRestarts = st.NRestarts
		}
		s.mu.Unlock()
	}
	return nil
}

// Stop ends health checks and, with OwnsHandlers, stops every handler,
// each within timeout. It is idempotent.
func (s *Supervisor) Stop(ctx context.Context, timeout time.Duration) error {
	s.mu.Lock()
	if !s.running {
		s.mu.Unlock()
		return nil
	}
	s.running = false
	cancel, done := s.cancel, s.done
	s.mu.Unlock()
	cancel()
	select {
	case <-done:
	case <-ctx.Done():
		return fmt.Errorf("stop governor loop: %w", ctx.Err())
	}
	s.bg.Wait()
	s.ops.Lock()
	defer s.ops.Unlock()
	var errs []error
	s.mu.Lock()
	names := s.namesLocked()
	for _, e := range s.hs {
		if e.conn != nil {
			e.conn.Close() //nolint:errcheck // closing on the way out
			e.conn = nil
		}
	}
	s.mu.Unlock()
	if s.opts.OwnsHandlers {
		var wg sync.WaitGroup
		var emu sync.Mutex
		for _, n := range names {
			wg.Go(func() {
				if err := s.opts.Units.Stop(ctx, n, timeout); err != nil {
					emu.Lock()
					errs = append(errs, fmt.Errorf("handler %q: stop: %w", n, err))
					emu.Unlock()
				}
			})
		}
		wg.Wait()
	}
	s.logger.Info("governor stopped", "handlers", len(names))
	return errors.Join(errs...)
}

// Restart is Stop then Start.
func (s *Supervisor) Restart(ctx context.Context, timeout time.Duration) error {
	if err := s.Stop(ctx, timeout); err != nil {
		return err
	}
	return s.Start(ctx)
}

// Heartbeat returns when the health loop last turned; the daemon feeds
// the watchdog only while it is fresh.
func (s *Supervisor) Heartbeat() time.Time { return time.Unix(0, s.heartbeat.Load()) }

// CheckInterval is the configured interval between health checks.
func (s *Supervisor) CheckInterval() time.Duration { return s.opts.CheckInterval }

func (s *Supervisor) namesLocked() []string {
	names := make([]string, 0, len(s.hs))
	for n := range s.hs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (s *Supervisor) get(name string) (*entry, error) {
	e, ok := s.hs[name]
	if !ok {
		return nil, fmt.Errorf("handler %q: %w", name, ErrNotFound)
	}
	return e, nil
}

// AddHandler validates cfg, writes its config, enables and starts it.
func (s *Supervisor) AddHandler(ctx context.Context, cfg HandlerConfig) (HandlerInfo, error) {
	if err := cfg.Validate(); err != nil {
		return HandlerInfo{}, err
	}
	if cfg.Endpoint == "" {
		ep, err := s.opts.EndpointFunc(cfg.Name)
		if err != nil {
			return HandlerInfo{}, fmt.Errorf("handler %q: %w", cfg.Name, err)
		}
		cfg.Endpoint = ep
	}
	if cfg.Scheduler == "" {
		cfg.Scheduler = s.opts.Scheduler
	}
	s.ops.Lock()
	defer s.ops.Unlock()
	s.mu.Lock()
	if _, ok := s.hs[cfg.Name]; ok {
		s.mu.Unlock()
		return HandlerInfo{}, fmt.Errorf("handler %q: %w", cfg.Name, ErrExists)
	}
	e := &entry{rec: record{Config: cfg}}
	s.hs[cfg.Name] = e
	s.mu.Unlock()
	undo := func() {
		s.mu.Lock()
		delete(s.hs, cfg.Name)
		s.mu.Unlock()
	}
	if err := saveRecord(s.opts.ConfigDir, e.rec); err != nil {
		undo()
		return HandlerInfo{}, err
	}
	if err := s.opts.Units.SetEnabled(ctx, cfg.Name, true); err != nil {
		undo()
		return HandlerInfo{}, errors.Join(fmt.Errorf("handler %q: enable: %w", cfg.Name, err), deleteRecord(s.opts.ConfigDir, cfg.Name))
	}
	if err := s.startUnit(ctx, cfg.Name); err != nil {
		return HandlerInfo{}, err // kept: it is configured and enabled; status shows the failure
	}
	s.logger.Info("handler added", "handler", cfg.Name, "kind", cfg.Kind, "endpoint", cfg.Endpoint)
	return s.HandlerStatus(ctx, cfg.Name)
}

// RemoveHandler stops the handler within timeout, disables it and deletes
// its configuration.
func (s *Supervisor) RemoveHandler(ctx context.Context, name string, timeout time.Duration) error {
	s.ops.Lock()
	defer s.ops.Unlock()
	s.mu.Lock()
	e, err := s.get(name)
	s.mu.Unlock()
	if err != nil {
		return err
	}
	if err := s.opts.Units.Stop(ctx, name, timeout); err != nil {
		return fmt.Errorf("handler %q: stop: %w", name, err)
	}
	if err := s.opts.Units.SetEnabled(ctx, name, false); err != nil {
		return fmt.Errorf("handler %q: disable: %w", name, err)
	}
	if err := deleteRecord(s.opts.ConfigDir, name); err != nil {
		return err
	}
	s.mu.Lock()
	delete(s.hs, name)
	if e.conn != nil {
		e.conn.Close() //nolint:errcheck // the handler is gone
	}
	s.mu.Unlock()
	s.logger.Info("handler removed", "handler", name)
	if s.opts.SchedulerRemoveFunc != nil {
		if err := s.opts.SchedulerRemoveFunc(ctx, name); err != nil {
			s.logger.Warn("scheduler not told of the removal; it keeps the handler offline", "handler", name, "err", err)
		}
	}
	return nil
}

// setStopped records the operator's wish.
func (s *Supervisor) setStopped(name string, stopped bool) (*entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, err := s.get(name)
	if err != nil {
		return nil, err
	}
	e.rec.Stopped = stopped
	// An operator's word is a fresh start: a new budget, no old error.
	e.restarts, e.backendRestarts, e.gaveUp, e.nextRestart, e.reason = 0, 0, false, time.Time{}, ""
	e.lastError, e.crashLogged = "", false
	return e, saveRecord(s.opts.ConfigDir, e.rec)
}

// StartHandler starts a handler and resets its restart budget.
func (s *Supervisor) StartHandler(ctx context.Context, name string) error {
	s.ops.Lock()
	defer s.ops.Unlock()
	if _, err := s.setStopped(name, false); err != nil {
		return err
	}
	s.logger.Info("handler started by operator", "handler", name)
	return s.startUnit(ctx, name)
}

// StopHandler stops a handler; the governor leaves it stopped.
func (s *Supervisor) StopHandler(ctx context.Context, name string, timeout time.Duration) error {
	s.ops.Lock()
	defer s.ops.Unlock()
	if _, err := s.setStopped(name, true); err != nil {
		return err
	}
	s.logger.Info("handler stopped by operator", "handler", name)
	if err := s.opts.Units.Stop(ctx, name, timeout); err != nil {
		return fmt.Errorf("handler %q: stop: %w", name, err)
	}
	return nil
}

// RestartHandler restarts a handler now and resets its restart budget.
func (s *Supervisor) RestartHandler(ctx context.Context, name string) error {
	s.ops.Lock()
	defer s.ops.Unlock()
	if _, err := s.setStopped(name, false); err != nil {
		return err
	}
	s.logger.Info("handler restarted by operator", "handler", name)
	if err := s.opts.Units.Stop(ctx, name, s.opts.StopTimeout); err != nil {
		return fmt.Errorf("handler %q: stop: %w", name, err)
	}
	return s.startUnit(ctx, name)
}

// HandlerStatus reports one handler.
func (s *Supervisor) HandlerStatus(ctx context.Context, name string) (HandlerInfo, error) {
	st, err := s.opts.Units.State(ctx, name)
	if err != nil {
		return HandlerInfo{}, fmt.Errorf("handler %q: state: %w", name, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, err := s.get(name)
	if err != nil {
		return HandlerInfo{}, err
	}
	return s.infoLocked(e, st), nil
}

func (s *Supervisor) infoLocked(e *entry, st UnitState) HandlerInfo {
	h := e.health.snapshot()
	cfg := e.rec.Config
	last := e.lastError
	if last == "" && st.ActiveState == StateFailed && st.Result != "" {
		last = "unit failed: " + describeExit(st)
	}
	return HandlerInfo{Name: cfg.Name, Unit: UnitName(cfg.Name), Kind: cfg.Kind, Endpoint: cfg.Endpoint,
		PID: st.MainPID, State: st.ActiveState, SubState: st.SubState, Enabled: st.Enabled,
		Restarts: e.spent(), LastError: last, Since: st.Since, MemoryBytes: st.MemoryBytes,
		Healthy: st.Running() && h.FailedChecks == 0 && h.LastSeen.After(e.started),
		Health:  h, Registered: e.registered}
}

// spent is how much of the restart budget is used: the governor's
// restarts and the backend's own.
func (e *entry) spent() int { return e.restarts + e.backendRestarts }

// ListHandlers reports every handler sorted by name.
func (s *Supervisor) ListHandlers(ctx context.Context) ([]HandlerInfo, error) {
	s.mu.Lock()
	names := s.namesLocked()
	s.mu.Unlock()
	out := make([]HandlerInfo, 0, len(names))
	for _, n := range names {
		hi, err := s.HandlerStatus(ctx, n)
		if errors.Is(err, ErrNotFound) {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, err
		}
		out = append(out, hi)
	}
	return out, nil
}

// Status reports every handler by name.
func (s *Supervisor) Status(ctx context.Context) (map[string]HandlerInfo, error) {
	list, err := s.ListHandlers(ctx)
	if err != nil {
		return nil, err
	}
	m := make(map[string]HandlerInfo, len(list))
	for _, h := range list {
		m[h.Name] = h
	}
	return m, nil
}

// HealthCheck reports whether each handler is healthy.
func (s *Supervisor) HealthCheck(ctx context.Context) (map[string]bool, error) {
	list, err := s.ListHandlers(ctx)
	if err != nil {
		return nil, err
	}
	m := make(map[string]bool, len(list))
	for _, h := range list {
		m[h.Name] = h.Healthy
	}
	return m, nil
}

// Metrics summarises the deployment.
func (s *Supervisor) Metrics(ctx context.Context) (Metrics, error) {
	st, err := s.Status(ctx)
	if err != nil {
		return Metrics{}, err
	}
	s.mu.Lock()
	running := s.running
	s.mu.Unlock()
	m := Metrics{Deployment: s.opts.Deployment, Backend: s.opts.Backend, Running: running,
		TotalServices: len(st), Services: st}
	for _, h := range st {
		if h.Healthy {
			m.HealthyServices++
		}
		m.TotalRestarts += h.Restarts
	}
	return m, nil
}
