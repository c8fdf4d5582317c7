package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/schedulezero/schedulezero/pkg/field"
	"github.com/schedulezero/schedulezero/pkg/store"
)

// funcs are the templates' helpers.
func (s *server) funcs() template.FuncMap {
	return template.FuncMap{
		"when":    s.when,
		"left":    s.left,
		"ago":     s.ago,
		"ms":      fmtMillis,
		"trigger": describeTrigger,
		"status":  statusClass,
		"pretty":  prettyJSON,
		"pct":     func(f float64) string { return fmt.Sprintf("%.1f%%", f*100) },
		"iso":     func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"actionOf": func(id, action, csrf string) actionView {
			return actionView{ID: id, Action: action, CSRF: csrf, Label: actionLabels[action]}
		},
	}
}

// actionView is one action button of a schedule's page.
type actionView struct{ ID, Action, CSRF, Label string }

var actionLabels = map[string]string{"pause": "Pause", "resume": "Resume", "run": "Run now", "delete": "Delete"}

// when shows t in the dashboard's zone, "-" when zero.
func (s *server) when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.In(s.loc).Format("2006-01-02 15:04:05 MST")
}

// left is the time until t, as systemctl list-timers shows it.
func (s *server) left(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := t.Sub(s.now())
	if d < 0 {
		return "due"
	}
	return humanDuration(d)
}

// ago is the time since t.
func (s *server) ago(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := s.now().Sub(t)
	if d < 0 {
		d = 0
	}
	return humanDuration(d) + " ago"
}

// humanDuration rounds d to its two largest units: "3h 12min", "42s".
func humanDuration(d time.Duration) string {
	switch {
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dmin %ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh %dmin", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%d days", int(d.Hours()/24))
}

func fmtMillis(ms float64) string {
	switch {
	case ms <= 0:
		return "-"
	case ms < 1000:
		return fmt.Sprintf("%.1fms", ms)
	}
	return fmt.Sprintf("%.2fs", ms/1000)
}

// describeTrigger is a trigger in words, with its zone when it has one.
func describeTrigger(raw json.RawMessage, zone string) string {
	var t struct {
		Type                                 string
		Expr                                 string
		Timezone                             string
		RunDate                              any `json:"run_date"`
		Weeks, Days, Hours, Minutes, Seconds float64
	}
	if json.Unmarshal(raw, &t) != nil {
		return string(raw)
	}
	var out string
	switch t.Type {
	case "interval":
		secs := t.Seconds + 60*t.Minutes + 3600*t.Hours + 86400*(t.Days+7*t.Weeks)
		out = "every " + time.Duration(math.Round(secs*1e3)*float64(time.Millisecond)).String()
		zone = ""
	case "cron":
		out = "cron " + t.Expr
	case "calendar":
		out = "OnCalendar=" + t.Expr
	case "date":
		out = fmt.Sprint("once at ", t.RunDate)
	default:
		out = string(raw)
	}
	if t.Timezone != "" {
		zone = t.Timezone
	}
	if zone != "" {
		out += " (" + zone + ")"
	}
	return out
}

// statusClass is the CSS class of an attempt or handler status.
func statusClass(st string) string {
	switch store.Status(st) {
	case store.StatusSucceeded:
		return "ok"
	case store.StatusRunning, store.StatusPending:
		return "run"
	case store.StatusMissed, store.StatusCancelled, store.StatusInterrupted:
		return "warn"
	case store.StatusFailed, store.StatusTimedOut:
		return "bad"
	}
	switch st {
	case "online", "active":
		return "ok"
	case "offline", "removed", "unknown", "failed":
		return "bad"
	case "paused", "stopping", "done", "inactive", "activating", "deactivating", "reloading":
		return "warn"
	}
	return ""
}

func prettyJSON(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var b bytes.Buffer
	if json.Indent(&b, raw, "", "  ") != nil {
		return string(raw)
	}
	return b.String()
}

// errorPage maps an error of the backend to a status and what to show.
func errorPage(err error) (int, errorView) {
	var fe *field.Error
	switch {
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound, errorView{Title: "Not found", Message: err.Error()}
	case errors.As(err, &fe):
		return http.StatusBadRequest, errorView{Title: "Bad request", Message: fe.Error(), Fix: fe.Fix}
	}
	var ve viewError
	if errors.As(err, &ve) {
		return ve.status, errorView{Title: http.StatusText(ve.status), Message: ve.msg, Fix: ve.fix}
	}
	return http.StatusInternalServerError, errorView{Title: "Error", Message: err.Error()}
}

// viewError is an error a page makes itself, with its status and fix.
type viewError struct {
	status   int
	msg, fix string
}

func (e viewError) Error() string { return e.msg }

// trimmed caps a free-text query parameter.
func trimmed(r *http.Request, key string) string {
	v := strings.TrimSpace(r.URL.Query().Get(key))
	if len(v) > 200 {
		v = v[:200]
	}
	return v
}
