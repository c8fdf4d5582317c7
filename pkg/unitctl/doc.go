// Package unitctl is the D-Bus side of systemd for the governor: it starts,
// stops, enables and watches schedulezero-handler@NAME.service instances
// through PID 1's org.freedesktop.systemd1 API on the system bus, with
// go-systemd's dbus package, and refuses every other unit before asking.
//
// The governor declares the UnitManager it needs; *Manager implements it.
// Why D-Bus and not systemctl(1): every call carries a context deadline,
// job results arrive as JobRemoved signals instead of exit codes, state
// changes arrive as PropertiesChanged signals instead of polls, and no
// process is forked per call. polkit checks each method as it would for
// systemctl (org.freedesktop.systemd1.manage-units with the unit and verb;
// manage-unit-files for enable and disable), so the rule in
// packaging/polkit applies unchanged. See docs/governor.md.
package unitctl
