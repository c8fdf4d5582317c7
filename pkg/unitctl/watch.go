package unitctl

import (
	"context"
	"fmt"
	"time"

	sdbus "github.com/coreos/go-systemd/v22/dbus"
	"github.com/godbus/dbus/v5"

	"github.com/schedulezero/schedulezero/pkg/governor"
	"github.com/schedulezero/schedulezero/pkg/handlername"
)

// watchLink is a link subscribed to PID 1's unit signals.
type watchLink struct {
	*link
	updates chan *sdbus.PropertiesUpdate
	errs    chan error
}

// subscribe dials a link of its own for ctx and asks PID 1 for unit
// signals: the bus delivers only PropertiesChanged of the
// org.freedesktop.systemd1.Unit interface (ActiveState, SubState and the
// timestamps change there), and Manager.Subscribe makes PID 1 emit them.
func (m *Manager) subscribe(ctx context.Context) (*watchLink, error) {
	bctx, cancel := m.bound(ctx, 0)
	defer cancel()
	l, err := dial(bctx, ctx)
	if err != nil {
		return nil, err
	}
	// PID 1 sends PropertiesChanged for every loaded unit after an enable
	// or disable (hundreds at once); the buffer takes such a burst while
	// the pump drops what is not a handler. Were it full, go-systemd would
	// drop updates (and report that on errs, which makes the pump re-read
	// every handler).
	w := &watchLink{link: l, updates: make(chan *sdbus.PropertiesUpdate, watchBuffer), errs: make(chan error, 8)}
	l.sd.SetPropertiesSubscriber(w.updates, w.errs)
	if err := l.sig.AddMatchSignalContext(bctx, dbus.WithMatchInterface("org.freedesktop.DBus.Properties"),
		dbus.WithMatchMember("PropertiesChanged"), dbus.WithMatchPathNamespace(sdUnitPathsNS),
		dbus.WithMatchArg(0, sdUnitIface)); err != nil {
		l.close()
		return nil, fmt.Errorf("watch: add match: %w: %w", ErrBus, err)
	}
	if err := l.sig.Object(sdBusName, sdObjectPath).CallWithContext(bctx, sdManager+".Subscribe", 0).Err; err != nil {
		l.close()
		return nil, fmt.Errorf("watch: subscribe: %w: %w", ErrBus, err)
	}
	return w, nil
}

// Watch reports each handler unit whose state changed, driven by PID 1's
// PropertiesChanged signals (no polling): on a signal for a
// schedulezero-handler@ unit it re-reads that unit. It starts with the
// state of every known handler, and reads them all again whenever
// signals may have been lost (a full buffer, a reconnect).
func (m *Manager) Watch(ctx context.Context) (<-chan governor.UnitState, error) {
	m.mu.Lock()
	closed := m.closed
	if !closed {
		m.wg.Add(1)
	}
	m.mu.Unlock()
	if closed {
		return nil, fmt.Errorf("unitctl: %w", dbus.ErrClosed)
	}
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(m.life, cancel)
	w, err := m.subscribe(ctx)
	if err != nil {
		stop()
		cancel()
		m.wg.Done()
		return nil, err
	}
	out := make(chan governor.UnitState, 64)
	go func() {
		defer m.wg.Done()
		defer cancel()
		defer stop()
		m.pump(ctx, w, out)
	}()
	return out, nil
}

// pump turns signals into UnitStates on out until ctx ends.
func (m *Manager) pump(ctx context.Context, w *watchLink, out chan<- governor.UnitState) {
	defer close(out)
	defer func() { w.close() }()
	last := map[string]governor.UnitState{}
	emit := func(name string) {
		u := governor.UnitName(name)
		rctx, cancel := context.WithTimeout(ctx, stateReadTimeout)
		st, err := m.read(rctx, w.link, name, u)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				m.logger.Debug("watch: read state", "handler", name, "err", err)
			}
			return
		}
		if p, ok := last[name]; ok && p.ActiveState == st.ActiveState && p.SubState == st.SubState &&
			p.MainPID == st.MainPID && p.NRestarts == st.NRestarts && p.Enabled == st.Enabled {
			return
		}
		select {
		case out <- st:
			last[name] = st // only what was delivered counts as seen
		default:
		}
	}
	resync := func() {
		lctx, cancel := context.WithTimeout(ctx, stateReadTimeout)
		names := m.names(lctx, w.link)
		cancel()
		for _, n := range names {
			emit(n)
		}
	}
	resync()
	dropped := w.dropped()
	for {
		select {
		case <-ctx.Done():
			return
		case upd := <-w.updates:
			// A transition comes as several signals, often in a burst
			// with other units': take what is queued, then read each
			// handler unit once.
			changed := map[string]bool{}
			for more := true; more; {
				if n, err := governor.HandlerOfUnit(upd.UnitName); err == nil && handlername.Check(n) == nil {
					changed[n] = true
				}
				select {
				case upd = <-w.updates:
				default:
					more = false
				}
			}
			for n := range changed {
				m.mu.Lock()
				m.known[n] = true
				m.mu.Unlock()
				emit(n)
			}
		case err := <-w.errs: // "update channel is full": signals were lost
			m.logger.Debug("watch: resync", "reason", err)
			resync()
		case <-dropped:
			w.close()
			nw := m.resubscribe(ctx)
			if nw == nil {
				return // ctx ended
			}
			w, dropped = nw, nw.dropped()
			resync()
		}
	}
}

// resubscribe re-dials a dropped watch with backoff until ctx ends.
func (m *Manager) resubscribe(ctx context.Context) *watchLink {
	delay := reconnectMin
	for {
		m.logger.Warn("watch: system bus connection dropped; reconnecting", "delay", delay)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		w, err := m.subscribe(ctx)
		if err == nil {
			return w
		}
		if ctx.Err() != nil {
			return nil
		}
		m.logger.Warn("watch: reconnect failed", "err", err)
		delay = min(2*delay, reconnectMax)
	}
}
