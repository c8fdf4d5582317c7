// Package governor keeps the desired set of handlers running and healthy.
//
// The scheduler only learns that a handler exists when it registers; something
// has to start handlers, notice when one dies or hangs, and restart it within
// a budget. The original ScheduleZero designed that governor and built only a
// process-based one. Ours reconciles the desired handler set against unit
// states through one small consumer-declared interface, UnitManager, with two
// implementations: systemd units over D-Bus (pkg/unitctl) for production and
// child processes (ProcessManager) for hosts without systemd, such as
// developer machines, containers and the embedded demo.
//
// Health is judged over the wire, not from the process table: a SIGSTOPped
// handler is "active (running)" to systemd but answers no ping. Every
// CheckInterval the Supervisor pings each handler's job socket and keeps an
// EWMA and a p99 of the round trip, an error rate over the recent checks and
// the last time it answered. FailedChecks consecutive failures restart the
// handler; so does a crash. Restarts back off exponentially from
// RestartDelay and stop when MaxRestarts is spent; every decision is logged
// with its reason. See docs/governor.md.
package governor
