package unitctl

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	sdbus "github.com/coreos/go-systemd/v22/dbus"
	"github.com/godbus/dbus/v5"
	"golang.org/x/sys/unix"

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

// link is one go-systemd connection: two private connections to the bus,
// the first for method calls, the second for signals.
type link struct {
	sd   *sdbus.Conn
	call *dbus.Conn
	sig  *dbus.Conn
}

func (l *link) close() { l.sd.Close() }

func (l *link) alive() bool { return l.sd.Connected() }

// dropped is closed when either bus connection closed.
func (l *link) dropped() <-chan struct{} {
	ch := make(chan struct{})
	go func() {
		defer close(ch)
		select {
		case <-l.call.Context().Done():
		case <-l.sig.Context().Done():
		}
	}()
	return ch
}

// dial opens a link whose connections live until life ends or they are
// closed. ctx bounds the dial itself: on its end the half-open
// connections are closed, which fails any call still waiting on them.
func dial(ctx, life context.Context) (*link, error) {
	var (
		mu        sync.Mutex
		conns     []*dbus.Conn
		abandoned bool
	)
	track := func(c *dbus.Conn) bool {
		mu.Lock()
		defer mu.Unlock()
		conns = append(conns, c)
		return !abandoned
	}
	type result struct {
		sd  *sdbus.Conn
		err error
	}
	res := make(chan result, 1)
	go func() {
		sd, err := sdbus.NewConnection(func() (*dbus.Conn, error) { return systemBus(life, track) })
		res <- result{sd, err}
	}()
	select {
	case r := <-res:
		if r.err != nil {
			return nil, fmt.Errorf("connect to the system bus: %w: %w", ErrBus, r.err)
		}
		mu.Lock()
		defer mu.Unlock()
		return &link{sd: r.sd, call: conns[0], sig: conns[1]}, nil
	case <-ctx.Done():
		mu.Lock()
		abandoned = true
		for _, c := range conns {
			c.Close() //nolint:errcheck // abandoning the dial
		}
		mu.Unlock()
		if r := <-res; r.sd != nil { // prompt: its connections are closed
			r.sd.Close()
		}
		return nil, fmt.Errorf("connect to the system bus: %w", ctx.Err())
	}
}

// systemBus opens, authenticates and registers one private connection to
// the system bus (DBUS_SYSTEM_BUS_ADDRESS, else /run/dbus/system_bus_socket).
// track learns of it before any blocking step, so that an abandoned dial
// can close it.
func systemBus(life context.Context, track func(*dbus.Conn) bool) (*dbus.Conn, error) {
	c, err := dbus.SystemBusPrivate(dbus.WithContext(life))
	if err != nil {
		return nil, err
	}
	if !track(c) {
		c.Close() //nolint:errcheck // abandoned
		return nil, dbus.ErrClosed
	}
	// EXTERNAL with the numeric uid: no user lookup, so no cgo.
	if err := c.Auth([]dbus.Auth{dbus.AuthExternal(strconv.Itoa(os.Getuid()))}); err != nil {
		c.Close() //nolint:errcheck // the auth error wins
		return nil, err
	}
	if err := c.Hello(); err != nil {
		c.Close() //nolint:errcheck // the hello error wins
		return nil, err
	}
	return c, nil
}

// conn returns the method-call link, dialling it when there is none or
// the last one dropped. One caller dials at a time; the others wait for
// it no longer than their own context allows.
func (m *Manager) conn(ctx context.Context) (*link, error) {
	select {
	case m.dialing <- struct{}{}:
		defer func() { <-m.dialing }()
	case <-ctx.Done():
		return nil, fmt.Errorf("connect to the system bus: %w", ctx.Err())
	}
	m.mu.Lock()
	closed, l := m.closed, m.link
	m.mu.Unlock()
	if closed {
		return nil, fmt.Errorf("unitctl: %w", dbus.ErrClosed)
	}
	if l != nil && l.alive() {
		return l, nil
	}
	if l != nil {
		l.close()
		m.logger.Warn("system bus connection dropped; reconnecting")
	}
	l, err := dial(ctx, m.life)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed { // Close ran meanwhile
		l.close()
		return nil, fmt.Errorf("unitctl: %w", dbus.ErrClosed)
	}
	m.link = l
	return l, nil
}

// callErr names the call and the unit and maps systemd's D-Bus errors to
// the package's sentinels.
func callErr(verb, u string, err error) error {
	var de dbus.Error
	if errors.As(err, &de) {
		msg := de.Name
		if len(de.Body) > 0 {
			if s, ok := de.Body[0].(string); ok {
				msg = s
			}
		}
		switch de.Name {
		case "org.freedesktop.DBus.Error.AccessDenied", "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired":
			return fmt.Errorf("%s %s: %w: %s", verb, u, ErrAccessDenied, msg)
		case "org.freedesktop.systemd1.NoSuchUnit", "org.freedesktop.systemd1.LoadFailed",
			"org.freedesktop.DBus.Error.FileNotFound":
			return fmt.Errorf("%s %s: %w: %s", verb, u, ErrNotInstalled, msg)
		}
		return fmt.Errorf("%s %s: %w: %s: %s", verb, u, ErrBus, de.Name, msg)
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return fmt.Errorf("%s %s: %w", verb, u, err)
	}
	return fmt.Errorf("%s %s: %w: %w", verb, u, ErrBus, err)
}

// awaitJob waits for the JobRemoved result of a job on ch.
func awaitJob(ctx context.Context, verb, u string, ch <-chan string) error {
	select {
	case r := <-ch:
		if r == "done" {
			return nil
		}
		return fmt.Errorf("%s %s: %w: result %q", verb, u, ErrJob, r)
	case <-ctx.Done():
		return fmt.Errorf("%s %s: waiting for the job: %w", verb, u, ctx.Err())
	}
}

// Start starts the handler's unit and returns when its start job is done
// (for Type=notify: the handler sent READY=1). A failed unit is reset
// first, so a unit that hit its StartLimitBurst= starts again: the
// governor's restart budget, not systemd's, has the last word.
func (m *Manager) Start(ctx context.Context, name string) error {
	u, err := m.unitOf(name)
	if err != nil {
		return err
	}
	ctx, cancel := m.bound(ctx, 0)
	defer cancel()
	l, err := m.conn(ctx)
	if err != nil {
		return err
	}
	p, err := l.sd.GetUnitPropertyContext(ctx, u, "ActiveState")
	if err != nil {
		return callErr("start", u, err)
	}
	if v, _ := p.Value.Value().(string); v == governor.StateFailed {
		if err := l.sd.ResetFailedUnitContext(ctx, u); err != nil {
			return callErr("reset-failed", u, err)
		}
	}
	ch := make(chan string, 1) // buffered: go-systemd delivers job results blocking
	if _, err := l.sd.StartUnitContext(ctx, u, "replace", ch); err != nil {
		return callErr("start", u, err)
	}
	if err := awaitJob(ctx, "start", u, ch); err != nil {
		if st, serr := m.read(ctx, l, name, u); serr == nil && st.Result != "" && st.Result != "success" {
			return fmt.Errorf("%w (unit result %s)", err, st.Result)
		}
		return err
	}
	return nil
}

// Stop stops the handler's unit: systemd sends SIGTERM and SIGCONT (a
// SIGSTOPped handler must be able to act on it). When timeout passes
// before the stop job is done, every process of the unit gets SIGKILL.
// Stopping a stopped (or never loaded) unit does nothing.
func (m *Manager) Stop(ctx context.Context, name string, timeout time.Duration) error {
	u, err := m.unitOf(name)
	if err != nil {
		return err
	}
	ctx, cancel := m.bound(ctx, timeout)
	defer cancel()
	l, err := m.conn(ctx)
	if err != nil {
		return err
	}
	ch := make(chan string, 1)
	if _, err := l.sd.StopUnitContext(ctx, u, "replace", ch); err != nil {
		err = callErr("stop", u, err)
		if errors.Is(err, ErrNotInstalled) {
			return nil
		}
		return err
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case r := <-ch:
		if r == "done" {
			return nil
		}
		return fmt.Errorf("stop %s: %w: result %q", u, ErrJob, r)
	case <-ctx.Done():
		return fmt.Errorf("stop %s: waiting for the job: %w", u, ctx.Err())
	case <-t.C:
	}
	m.logger.Warn("handler ignored SIGTERM; killing", "handler", name, "unit", u, "timeout", timeout)
	if err := l.sd.KillUnitWithTarget(ctx, u, sdbus.All, int32(syscall.SIGKILL)); err != nil {
		return callErr("kill", u, err)
	}
	return awaitJob(ctx, "stop", u, ch)
}

// Helper templates: root oneshots that run `systemctl enable --no-reload
// schedulezero-handler@%i.service` (or disable) for one instance. They
// exist because polkit cannot grant unit-file management for one unit:
// systemd's manage-unit-files action carries no unit name, and its
// org.freedesktop.policykit.imply annotation turns a grant of it into a
// grant of manage-units for every unit and of daemon-reload. Starting a
// helper instance is manage-units on a schedulezero-handler-* unit, which
// the shipped rule can restrict; the helper can only ever (dis)able the
// handler instance of its own instance name.
const (
	EnableHelperPrefix  = "schedulezero-handler-enable@"
	DisableHelperPrefix = "schedulezero-handler-disable@"
)

// SetEnabled enables or disables the instance. Enabling an instance of
// the template links it into the template's WantedBy= target
// (schedulezero.target), so it starts at boot. It starts the enable or
// disable helper (see EnableHelperPrefix); where the helpers are not
// installed it calls EnableUnitFiles or DisableUnitFiles itself, which
// needs root or a site's own polkit grant. PID 1 is not reloaded
// (daemon-reload is refused to the governor's user, and the link is read
// at boot anyway), so until the next reload the running target does not
// list the new instance among its wants.
func (m *Manager) SetEnabled(ctx context.Context, name string, enabled bool) error {
	u, err := m.unitOf(name)
	if err != nil {
		return err
	}
	ctx, cancel := m.bound(ctx, 0)
	defer cancel()
	l, err := m.conn(ctx)
	if err != nil {
		return err
	}
	verb, helper := "disable", DisableHelperPrefix+strings.TrimPrefix(u, governor.UnitPrefix)
	if enabled {
		verb, helper = "enable", EnableHelperPrefix+strings.TrimPrefix(u, governor.UnitPrefix)
	}
	ch := make(chan string, 1)
	if _, err := l.sd.StartUnitContext(ctx, helper, "replace", ch); err == nil {
		return awaitJob(ctx, verb, u+" (via "+helper+")", ch)
	} else if err = callErr(verb, u+" (via "+helper+")", err); !errors.Is(err, ErrNotInstalled) {
		return err
	}
	m.logger.Debug("unit file helper not installed; managing the unit file directly", "helper", helper)
	if enabled {
		if _, _, err := l.sd.EnableUnitFilesContext(ctx, []string{u}, false, false); err != nil {
			return callErr("enable", u, err)
		}
		return nil
	}
	if _, err := l.sd.DisableUnitFilesContext(ctx, []string{u}, false); err != nil {
		return callErr("disable", u, err)
	}
	return nil
}

// State reads the unit's properties from PID 1.
func (m *Manager) State(ctx context.Context, name string) (governor.UnitState, error) {
	u, err := m.unitOf(name)
	if err != nil {
		return governor.UnitState{}, err
	}
	ctx, cancel := m.bound(ctx, 0)
	defer cancel()
	l, err := m.conn(ctx)
	if err != nil {
		return governor.UnitState{}, err
	}
	return m.read(ctx, l, name, u)
}

// read gets the Unit and Service properties of u, and its unit file
// state from the disk (GetUnitFileState, what `systemctl is-enabled`
// asks), because the UnitFileState property is cached by PID 1 until the
// next daemon-reload and so misses an enable or disable.
func (m *Manager) read(ctx context.Context, l *link, name, u string) (governor.UnitState, error) {
	up, err := l.sd.GetUnitPropertiesContext(ctx, u)
	if err != nil {
		return governor.UnitState{}, callErr("read", u, err)
	}
	sp, err := l.sd.GetUnitTypePropertiesContext(ctx, u, "Service")
	if err != nil {
		return governor.UnitState{}, callErr("read", u, err)
	}
	var file string
	if err := l.call.Object(sdBusName, sdObjectPath).CallWithContext(ctx, sdManager+".GetUnitFileState", 0, u).Store(&file); err != nil {
		var de dbus.Error
		if !errors.As(err, &de) || (de.Name != "org.freedesktop.DBus.Error.FileNotFound" && de.Name != "org.freedesktop.systemd1.NoSuchUnit") {
			return governor.UnitState{}, callErr("read", u, err)
		}
		file = "" // no template installed: not enabled
	}
	st := StateFromProperties(up, sp)
	st.Name, st.Unit = name, u
	st.Enabled = enabledFileState(file)
	return st, nil
}

// enabledFileState reports whether a unit file state starts the unit at
// boot.
func enabledFileState(s string) bool { return s == "enabled" || s == "enabled-runtime" }

// StateFromProperties converts systemd's org.freedesktop.systemd1.Unit and
// .Service properties (as go-systemd returns them) into a UnitState. Name
// and Unit are left to the caller; Enabled comes from UnitFileState.
func StateFromProperties(unitProps, svcProps map[string]any) governor.UnitState {
	str := func(m map[string]any, k string) string { s, _ := m[k].(string); return s }
	u64 := func(m map[string]any, k string) uint64 {
		switch v := m[k].(type) {
		case uint64:
			return v
		case uint32:
			return uint64(v)
		}
		return 0
	}
	usec := func(k string) time.Time {
		if v := u64(unitProps, k); v > 0 {
			return time.UnixMicro(int64(v))
		}
		return time.Time{}
	}
	st := governor.UnitState{Unit: str(unitProps, "Id"), ActiveState: str(unitProps, "ActiveState"),
		SubState: str(unitProps, "SubState"), MainPID: int(u64(svcProps, "MainPID")),
		NRestarts: int(u64(svcProps, "NRestarts")), Result: str(svcProps, "Result"),
		Enabled: enabledFileState(str(unitProps, "UnitFileState"))}
	st.Exit = exitDetail(svcProps["ExecMainCode"], svcProps["ExecMainStatus"])
	if mem := u64(svcProps, "MemoryCurrent"); mem != ^uint64(0) { // UINT64_MAX: not set
		st.MemoryBytes = mem
	}
	st.Since = usec("StateChangeTimestamp")
	if st.Since.IsZero() {
		st.Since = usec("ActiveEnterTimestamp")
	}
	return st
}

// exitDetail renders ExecMainCode and ExecMainStatus (waitid(2)'s si_code
// and si_status) as "status 1" or "signal SIGKILL"; "" before any exit.
func exitDetail(code, status any) string {
	c, ok1 := code.(int32)
	n, ok2 := status.(int32)
	if !ok1 || !ok2 {
		return ""
	}
	switch c {
	case 1: // CLD_EXITED
		return "status " + strconv.Itoa(int(n))
	case 2, 3: // CLD_KILLED, CLD_DUMPED
		return "signal " + unix.SignalName(syscall.Signal(n))
	}
	return ""
}

// names returns the handlers to look at: those this Manager touched and
// every loaded schedulezero-handler@ unit.
func (m *Manager) names(ctx context.Context, l *link) []string {
	set := map[string]bool{}
	m.mu.Lock()
	for n := range m.known {
		set[n] = true
	}
	m.mu.Unlock()
	units, err := l.sd.ListUnitsByPatternsContext(ctx, nil, []string{HandlerPattern})
	if err != nil {
		m.logger.Debug("list handler units", "err", err)
	}
	for _, us := range units {
		if n, err := governor.HandlerOfUnit(us.Name); err == nil && handlername.Check(n) == nil {
			set[n] = true
		}
	}
	names := make([]string, 0, len(set))
	for n := range set {
		names = append(names, n)
	}
	return names
}

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
