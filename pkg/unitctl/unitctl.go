package unitctl

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/schedulezero/schedulezero/pkg/field"
	"github.com/schedulezero/schedulezero/pkg/governor"
	"github.com/schedulezero/schedulezero/pkg/handlername"
)

// Defaults of Options.
const (
	// DefaultCallTimeout bounds one D-Bus call, and the wait for the job
	// it started, when the caller's context has no earlier deadline.
	DefaultCallTimeout = 30 * time.Second
	// stateReadTimeout bounds the re-read of one unit after a signal.
	stateReadTimeout = 5 * time.Second
	// watchBuffer holds unit signals between go-systemd and the pump.
	watchBuffer = 4096
	// Reconnect backoff of a watch whose bus connection dropped.
	reconnectMin = 200 * time.Millisecond
	reconnectMax = 10 * time.Second
	// HandlerPattern is the unit glob of every handler instance.
	HandlerPattern = governor.UnitPrefix + "*" + governor.UnitSuffix
)

// systemd's D-Bus names.
const (
	sdBusName     = "org.freedesktop.systemd1"
	sdObjectPath  = dbus.ObjectPath("/org/freedesktop/systemd1")
	sdManager     = "org.freedesktop.systemd1.Manager"
	sdUnitIface   = "org.freedesktop.systemd1.Unit"
	sdUnitPathsNS = dbus.ObjectPath("/org/freedesktop/systemd1/unit")
)

// Options configure a Manager.
type Options struct {
	// CallTimeout bounds each D-Bus call (and the job it starts) whose
	// context has no earlier deadline; default DefaultCallTimeout.
	CallTimeout time.Duration
	Logger      *slog.Logger
}

// Manager drives schedulezero-handler@ units of the system manager over
// the system bus. It is safe for concurrent use. Close releases it.
type Manager struct {
	opts   Options
	logger *slog.Logger
	life   context.Context // ends at Close: every connection's lifetime
	kill   context.CancelFunc

	dialing chan struct{} // holds one token while a caller dials

	mu     sync.Mutex
	link   *link // method calls; dialled lazily, re-dialled after a drop
	known  map[string]bool
	closed bool
	wg     sync.WaitGroup // watch pumps
}

var _ governor.UnitManager = (*Manager)(nil)

// New returns a Manager; it connects on the first call.
func New(opts Options) *Manager {
	if opts.CallTimeout <= 0 {
		opts.CallTimeout = DefaultCallTimeout
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	life, kill := context.WithCancel(context.Background())
	return &Manager{opts: opts, logger: opts.Logger.With("component", "unitctl"), life: life, kill: kill,
		dialing: make(chan struct{}, 1), known: map[string]bool{}}
}

// Close closes the bus connections and ends every Watch.
func (m *Manager) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	l := m.link
	m.link = nil
	m.mu.Unlock()
	m.kill()
	if l != nil {
		l.close()
	}
	m.wg.Wait()
	return nil
}

// CheckUnit returns an error wrapping ErrRefused unless u is a
// schedulezero-handler@INSTANCE.service unit.
func CheckUnit(u string) error {
	if _, err := governor.HandlerOfUnit(u); err != nil || strings.ContainsAny(u, "/ \t\n*?[") {
		return fmt.Errorf("unit %q: %w", u, ErrRefused)
	}
	return nil
}

// unitOf maps a handler name to its unit, refusing anything that would not
// be a schedulezero-handler@ instance. The error is a *field.Error naming
// the name; the unit check behind it is a second fence.
func (m *Manager) unitOf(name string) (string, error) {
	if err := field.Prefix("name", handlername.Check(name)); err != nil {
		return "", err
	}
	u := governor.UnitName(name)
	if err := CheckUnit(u); err != nil {
		return "", err
	}
	m.mu.Lock()
	m.known[name] = true
	m.mu.Unlock()
	return u, nil
}

// bound gives ctx the call timeout unless it ends earlier.
func (m *Manager) bound(ctx context.Context, extra time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, m.opts.CallTimeout+extra)
}
