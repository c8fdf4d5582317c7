package sd

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/coreos/go-systemd/v22/journal"
)

// FieldPrefix starts every journald field made from a log attribute.
const FieldPrefix = "SZ_"

// JournalHandler is a slog.Handler that writes each record natively to
// journald with journal.Send, so attributes become searchable fields.
type JournalHandler struct {
	opts  slog.HandlerOptions
	ident string
	// prefix is the upper-cased group path ("" or "GROUP_SUB_") that open
	// groups add to the next attributes.
	prefix string
	fields map[string]string // pre-rendered WithAttrs fields
	// sendFunc is journal.Send; tests swap it to capture fields.
	sendFunc func(message string, priority journal.Priority, vars map[string]string) error
}

// NewJournalHandler returns a handler writing to the local journald.
// Mapping: level → PRIORITY, message → MESSAGE, caller → CODE_FILE,
// CODE_LINE, CODE_FUNC, and each attribute key → SZ_ + upper-cased key,
// with groups joined by "_" (group "job", key "id" → SZ_JOB_ID). Values
// are rendered as strings. opts may be nil.
func NewJournalHandler(opts *slog.HandlerOptions) slog.Handler {
	h := &JournalHandler{
		ident:    filepath.Base(os.Args[0]),
		fields:   map[string]string{},
		sendFunc: journal.Send,
	}
	if opts != nil {
		h.opts = *opts
	}
	return h
}

// Enabled reports whether level passes the handler's minimum level.
func (h *JournalHandler) Enabled(_ context.Context, level slog.Level) bool {
	min := slog.LevelInfo
	if h.opts.Level != nil {
		min = h.opts.Level.Level()
	}
	return level >= min
}

// Handle sends one record to journald.
func (h *JournalHandler) Handle(_ context.Context, r slog.Record) error {
	vars := make(map[string]string, len(h.fields)+r.NumAttrs()+4)
	for k, v := range h.fields {
		vars[k] = v
	}
	if h.ident != "" {
		vars["SYSLOG_IDENTIFIER"] = h.ident
	}
	if r.PC != 0 {
		fs := runtime.CallersFrames([]uintptr{r.PC})
		f, _ := fs.Next()
		vars["CODE_FILE"] = f.File
		vars["CODE_LINE"] = strconv.Itoa(f.Line)
		vars["CODE_FUNC"] = f.Function
	}
	r.Attrs(func(a slog.Attr) bool {
		h.addAttr(vars, h.prefix, a)
		return true
	})
	return h.sendFunc(r.Message, priority(r.Level), vars)
}

// WithAttrs returns a handler that adds attrs to every record.
func (h *JournalHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := h.clone()
	for _, a := range attrs {
		c.addAttr(c.fields, c.prefix, a)
	}
	return c
}

// WithGroup returns a handler that prefixes later attributes with name.
func (h *JournalHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	c := h.clone()
	c.prefix += fieldName(name) + "_"
	return c
}

func (h *JournalHandler) clone() *JournalHandler {
	c := *h
	c.fields = make(map[string]string, len(h.fields))
	for k, v := range h.fields {
		c.fields[k] = v
	}
	return &c
}

func (h *JournalHandler) addAttr(vars map[string]string, prefix string, a slog.Attr) {
	if h.opts.ReplaceAttr != nil && a.Value.Kind() != slog.KindGroup {
		a = h.opts.ReplaceAttr(nil, a)
	}
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return
	}
	if a.Value.Kind() == slog.KindGroup {
		p := prefix
		if a.Key != "" {
			p += fieldName(a.Key) + "_"
		}
		for _, ga := range a.Value.Group() {
			h.addAttr(vars, p, ga)
		}
		return
	}
	vars[FieldPrefix+prefix+fieldName(a.Key)] = a.Value.String()
}

// fieldName upper-cases key and replaces what journald rejects (anything
// outside [A-Z0-9_]) with "_".
func fieldName(key string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z':
			return r - 'a' + 'A'
		case r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_':
			return r
		default:
			return '_'
		}
	}, key)
}

// priority maps slog levels to syslog priorities.
func priority(l slog.Level) journal.Priority {
	switch {
	case l >= slog.LevelError:
		return journal.PriErr
	case l >= slog.LevelWarn:
		return journal.PriWarning
	case l >= slog.LevelInfo:
		return journal.PriInfo
	default:
		return journal.PriDebug
	}
}
