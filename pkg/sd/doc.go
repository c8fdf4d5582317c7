// Package sd is the process side of systemd for the ScheduleZero daemons:
// readiness and status notification (sd_notify), a health-gated watchdog,
// and a log/slog handler that writes natively to journald. Listeners on
// socket-activated file descriptors are package listener's.
//
// It exists so that every daemon speaks to systemd in the same way and so
// that the rules that make a daemon a good systemd citizen live in one
// tested place:
//
//   - READY=1 is sent only once the daemon can serve; RELOADING=1 carries
//     MONOTONIC_USEC as systemd 253+ expects; STOPPING=1 comes first on stop.
//   - WATCHDOG=1 is sent only while a health check passes, so a daemon whose
//     engine loop is stuck is killed and restarted by systemd instead of
//     being kept alive by a ticker goroutine that still runs.
//   - Log attributes become journald fields (execution_id → SZ_EXECUTION_ID),
//     so `journalctl SZ_EXECUTION_ID=…` finds every line of one execution.
//
// Nothing here is global: a Notifier reads its environment once, at
// construction, and is a no-op when the process does not run under systemd.
package sd
