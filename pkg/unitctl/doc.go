// Package unitctl is the D-Bus side of systemd for the governor: it starts,
// stops, enables and watches schedulezero-handler@NAME.service instances
// and refuses every other unit.
//
// The governor declares the UnitManager it needs; *Manager implements it
// against PID 1. The design target is go-systemd's dbus package on the
// system bus. That package needs github.com/godbus/dbus/v5, which this
// module does not require yet, so Manager speaks to systemd through
// systemctl(1), itself a D-Bus client of PID 1: every call is checked by
// the same polkit actions (org.freedesktop.systemd1.manage-units with the
// unit and verb, manage-unit-files for enable and disable), so the polkit
// rule in packaging/polkit applies unchanged. Watch polls unit properties
// at PollInterval; with go-systemd it becomes a PropertiesChanged
// subscription (see docs/governor.md).
package unitctl
