package unitctl

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"time"

	sdbus "github.com/coreos/go-systemd/v22/dbus"
	"github.com/godbus/dbus/v5"
	"golang.org/x/sys/unix"

	"github.com/schedulezero/schedulezero/pkg/governor"
	"github.com/schedulezero/schedulezero/pkg/handlername"
)

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

// open begins every unit verb: the unit of name, ctx bounded by the call
// timeout plus extra, and the bus link. cancel is nil when err is not.
func (m *Manager) open(ctx context.Context, name string, extra time.Duration) (_ context.Context, cancel context.CancelFunc, u string, l *link, err error) {
	if u, err = m.unitOf(name); err != nil {
		return nil, nil, "", nil, err
	}
	ctx, cancel = m.bound(ctx, extra)
	if l, err = m.conn(ctx); err != nil {
		cancel()
		return nil, nil, "", nil, err
	}
	return ctx, cancel, u, l, nil
}

// Start starts the handler's unit and returns when its start job is done
// (for Type=notify: the handler sent READY=1). A failed unit is reset
// first, so a unit that hit its StartLimitBurst= starts again: the
// governor's restart budget, not systemd's, has the last word.
func (m *Manager) Start(ctx context.Context, name string) error {
	ctx, cancel, u, l, err := m.open(ctx, name, 0)
	if err != nil {
		return err
	}
	defer cancel()
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
	ctx, cancel, u, l, err := m.open(ctx, name, timeout)
	if err != nil {
		return err
	}
	defer cancel()
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
	ctx, cancel, u, l, err := m.open(ctx, name, 0)
	if err != nil {
		return err
	}
	defer cancel()
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
	ctx, cancel, u, l, err := m.open(ctx, name, 0)
	if err != nil {
		return governor.UnitState{}, err
	}
	defer cancel()
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
