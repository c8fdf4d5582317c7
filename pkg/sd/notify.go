package sd

import (
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

// Notifier sends sd_notify(3) messages to the service manager. The zero
// value is not usable; call NewNotifier. All methods are no-ops returning
// nil when the process was not started with NOTIFY_SOCKET.
type Notifier struct {
	logger   *slog.Logger
	socket   string        // NOTIFY_SOCKET at construction; "" disables
	watchdog time.Duration // WATCHDOG_USEC when it targets this process
	wdErr    error         // a malformed WATCHDOG_USEC/WATCHDOG_PID
}

// NewNotifier reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID once.
// The variables are left in place (a daemon may re-exec itself).
func NewNotifier(logger *slog.Logger) *Notifier {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	n := &Notifier{logger: logger, socket: os.Getenv("NOTIFY_SOCKET")}
	n.watchdog, n.wdErr = daemon.SdWatchdogEnabled(false)
	return n
}

// Enabled reports whether notifications go anywhere.
func (n *Notifier) Enabled() bool { return n.socket != "" }

// WatchdogInterval returns WatchdogSec= for this process, or 0 when the
// watchdog is off.
func (n *Notifier) WatchdogInterval() time.Duration { return n.watchdog }

// Ready sends READY=1.
func (n *Notifier) Ready() error { return n.send(daemon.SdNotifyReady) }

// Status sends STATUS= with a one-line summary (newlines become spaces).
func (n *Notifier) Status(format string, args ...any) error {
	if !n.Enabled() {
		return nil
	}
	s := strings.NewReplacer("\n", " ", "\r", " ").Replace(fmt.Sprintf(format, args...))
	return n.send("STATUS=" + s)
}

// Reloading sends RELOADING=1 with MONOTONIC_USEC (Type=notify-reload in
// systemd 253+ requires it; older versions ignore it). Send Ready when the
// reload is done.
func (n *Notifier) Reloading() error {
	if !n.Enabled() {
		return nil
	}
	return n.send(daemon.SdNotifyReloading + "\n" + strings.TrimSpace(daemon.SdNotifyMonotonicUsec()))
}

// Stopping sends STOPPING=1.
func (n *Notifier) Stopping() error { return n.send(daemon.SdNotifyStopping) }

func (n *Notifier) send(state string) error {
	if n.socket == "" {
		return nil
	}
	// daemon.SdNotify reads NOTIFY_SOCKET itself; it is the same value we
	// captured unless someone changed the environment since, which the
	// daemons never do.
	if _, err := daemon.SdNotify(false, state); err != nil {
		return fmt.Errorf("sd_notify %q to %q: %w", firstLine(state), n.socket, err)
	}
	return nil
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
