package unitctl

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/schedulezero/schedulezero/pkg/governor"
)

// Options configure a Manager.
type Options struct {
	// Systemctl is the systemctl executable; default "systemctl" on PATH.
	Systemctl string
	// PollInterval is how often Watch reads the handler units; default 1s.
	PollInterval time.Duration
	// CallTimeout bounds one call that has no other bound; default 30s.
	CallTimeout time.Duration
	Logger      *slog.Logger
}

// Manager drives schedulezero-handler@ units of the system manager.
type Manager struct {
	opts   Options
	logger *slog.Logger

	mu    sync.Mutex
	known map[string]bool // handler names Watch polls
}

var _ governor.UnitManager = (*Manager)(nil)

// New returns a Manager; it checks nothing until the first call.
func New(opts Options) *Manager {
	if opts.Systemctl == "" {
		opts.Systemctl = "systemctl"
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = time.Second
	}
	if opts.CallTimeout <= 0 {
		opts.CallTimeout = 30 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Manager{opts: opts, logger: opts.Logger.With("component", "unitctl"), known: map[string]bool{}}
}

// unitOf maps a handler name to its unit, refusing anything that would not
// be a schedulezero-handler@ instance.
func (m *Manager) unitOf(name string) (string, error) {
	if err := governor.ValidName(name); err != nil {
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

// CheckUnit returns an error wrapping ErrRefused unless u is a
// schedulezero-handler@INSTANCE.service unit.
func CheckUnit(u string) error {
	if _, err := governor.HandlerOfUnit(u); err != nil || strings.ContainsAny(u, "/ \t\n*?[") {
		return fmt.Errorf("unit %q: %w", u, ErrRefused)
	}
	return nil
}

// systemctl runs one systemctl command on a handler unit.
func (m *Manager) systemctl(ctx context.Context, args ...string) (string, error) {
	if _, has := ctx.Deadline(); !has {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, m.opts.CallTimeout)
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, m.opts.Systemctl, append([]string{"--system", "--no-ask-password"}, args...)...)
	cmd.WaitDelay = time.Second
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return "", fmt.Errorf("systemctl %s: %w", strings.Join(args, " "), ctx.Err())
		}
		return out.String(), fmt.Errorf("systemctl %s: %w: %s (%w)", strings.Join(args, " "), ErrSystemctl,
			strings.TrimSpace(errb.String()), err)
	}
	return out.String(), nil
}

// Start starts the handler's unit and waits for its job.
func (m *Manager) Start(ctx context.Context, name string) error {
	u, err := m.unitOf(name)
	if err != nil {
		return err
	}
	_, err = m.systemctl(ctx, "start", u)
	return err
}

// Stop stops the handler's unit. systemd sends SIGTERM (and SIGCONT) and
// SIGKILL after the unit's TimeoutStopSec; when timeout passes first, the
// unit is killed with SIGKILL.
func (m *Manager) Stop(ctx context.Context, name string, timeout time.Duration) error {
	u, err := m.unitOf(name)
	if err != nil {
		return err
	}
	sctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	_, err = m.systemctl(sctx, "stop", u)
	if err == nil || ctx.Err() != nil || sctx.Err() == nil {
		return err
	}
	m.logger.Warn("unit ignored stop; killing", "handler", name, "timeout", timeout)
	kctx, kcancel := context.WithTimeout(ctx, m.opts.CallTimeout)
	defer kcancel()
	if _, err := m.systemctl(kctx, "kill", "--signal=SIGKILL", u); err != nil {
		return err
	}
	_, err = m.systemctl(kctx, "stop", u)
	return err
}

// SetEnabled enables or disables the unit (polkit action
// org.freedesktop.systemd1.manage-unit-files).
func (m *Manager) SetEnabled(ctx context.Context, name string, enabled bool) error {
	u, err := m.unitOf(name)
	if err != nil {
		return err
	}
	verb := "disable"
	if enabled {
		verb = "enable"
	}
	_, err = m.systemctl(ctx, verb, u)
	return err
}

// properties read by State, in systemctl show's order.
var properties = []string{"Id", "ActiveState", "SubState", "MainPID", "NRestarts", "MemoryCurrent",
	"StateChangeTimestamp", "ActiveEnterTimestamp", "UnitFileState", "Result"}

// State reads the unit's properties.
func (m *Manager) State(ctx context.Context, name string) (governor.UnitState, error) {
	u, err := m.unitOf(name)
	if err != nil {
		return governor.UnitState{}, err
	}
	out, err := m.systemctl(ctx, "show", "--timestamp=unix", "-p", strings.Join(properties, ","), u)
	if err != nil {
		return governor.UnitState{}, err
	}
	st := ParseShow(out)
	st.Name, st.Unit = name, u
	return st, nil
}

// ParseShow reads `systemctl show --timestamp=unix` output.
func ParseShow(out string) governor.UnitState {
	var st governor.UnitState
	var changed, entered time.Time
	for line := range strings.SplitSeq(out, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if !ok {
			continue
		}
		switch k {
		case "Id":
			st.Unit = v
		case "ActiveState":
			st.ActiveState = v
		case "SubState":
			st.SubState = v
		case "MainPID":
			st.MainPID, _ = strconv.Atoi(v)
		case "NRestarts":
			st.NRestarts, _ = strconv.Atoi(v)
		case "MemoryCurrent":
			st.MemoryBytes, _ = strconv.ParseUint(v, 10, 64) // "[not set]" stays 0
		case "StateChangeTimestamp":
			changed = parseUnix(v)
		case "ActiveEnterTimestamp":
			entered = parseUnix(v)
		case "UnitFileState":
			st.Enabled = v == "enabled" || v == "enabled-runtime"
		case "Result":
			st.Result = v
		}
	}
	st.Since = changed
	if st.Since.IsZero() {
		st.Since = entered
	}
	return st
}

// parseUnix reads "@1700000000" (seconds, possibly fractional).
func parseUnix(v string) time.Time {
	f, err := strconv.ParseFloat(strings.TrimPrefix(v, "@"), 64)
	if err != nil || f <= 0 {
		return time.Time{}
	}
	return time.Unix(0, int64(f*1e9))
}

// Watch reports each handler unit whose state changed, polling the units
// this Manager has touched plus every loaded schedulezero-handler@ unit.
func (m *Manager) Watch(ctx context.Context) (<-chan governor.UnitState, error) {
	ch := make(chan governor.UnitState, 64)
	go func() {
		defer close(ch)
		last := map[string]governor.UnitState{}
		t := time.NewTicker(m.opts.PollInterval)
		defer t.Stop()
		for {
			for _, n := range m.names(ctx) {
				st, err := m.State(ctx, n)
				if err != nil {
					if ctx.Err() == nil {
						m.logger.Debug("watch: read state", "handler", n, "err", err)
					}
					continue
				}
				prev, seen := last[n]
				last[n] = st
				if seen && prev.ActiveState == st.ActiveState && prev.SubState == st.SubState &&
					prev.MainPID == st.MainPID && prev.Enabled == st.Enabled {
					continue
				}
				select {
				case ch <- st:
				default:
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return ch, nil
}

// names returns the handlers to watch.
func (m *Manager) names(ctx context.Context) []string {
	set := map[string]bool{}
	m.mu.Lock()
	for n := range m.known {
		set[n] = true
	}
	m.mu.Unlock()
	out, err := m.systemctl(ctx, "list-units", "--all", "--plain", "--no-legend", "--type=service", governor.UnitPrefix+"*")
	if err == nil {
		for line := range strings.SplitSeq(out, "\n") {
			f := strings.Fields(line)
			if len(f) == 0 {
				continue
			}
			if n, err := governor.HandlerOfUnit(f[0]); err == nil && governor.ValidName(n) == nil {
				set[n] = true
			}
		}
	}
	names := make([]string, 0, len(set))
	for n := range set {
		names = append(names, n)
	}
	return names
}

// Available reports whether the system manager answers.
func (m *Manager) Available(ctx context.Context) error {
	_, err := m.systemctl(ctx, "show", "-p", "Version")
	if err != nil {
		return errors.Join(errors.New("systemd not reachable"), err)
	}
	return nil
}
