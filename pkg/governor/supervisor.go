package governor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/schedulezero/schedulezero/pkg/wire"
)

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

func (s *Supervisor) now() time.Time { return s.opts.NowFunc() }

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
