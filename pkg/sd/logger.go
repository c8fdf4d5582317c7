package sd

import (
	"io"
	"log/slog"
	"strings"

	"github.com/coreos/go-systemd/v22/journal"

	"github.com/schedulezero/schedulezero/pkg/field"
)

// ParseLevel parses "debug", "info", "warn" or "error" (any case). A bad
// value is a *field.Error naming the log-level flag.
func ParseLevel(level string) (slog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(level)) {
	case "debug":
		return slog.LevelDebug, nil
	case "info", "":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, field.Errorf("log-level", "unknown level %q", level).WithFix("use debug, info, warn or error")
}

// NewLogger returns the daemon's logger: the journald handler when stderr
// is connected to the journal (the daemon runs as a unit), otherwise a text
// handler on w.
func NewLogger(w io.Writer, level string) (*slog.Logger, error) {
	l, err := ParseLevel(level)
	if err != nil {
		return nil, err
	}
	opts := &slog.HandlerOptions{Level: l, AddSource: true}
	if ok, _ := journal.StderrIsJournalStream(); ok {
		return slog.New(NewJournalHandler(opts)), nil
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}
