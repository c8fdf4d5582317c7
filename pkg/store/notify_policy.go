package store

import (
	"net/url"
	"strings"

	"github.com/schedulezero/schedulezero/pkg/field"
)

// TargetNone in a schedule's policy turns off a notification that the
// scheduler's default would send.
const TargetNone = "none"

// DefaultNotifyMethod is the handler method a "handler:NAME" target calls.
const DefaultNotifyMethod = "notify.send"

// Target is where a notification goes: a webhook (URL) or a handler's
// method (Handler, Method).
type Target struct {
	URL     string
	Handler string
	Method  string
}

// String is the target as written.
func (t Target) String() string {
	if t.URL != "" {
		return t.URL
	}
	return "handler:" + t.Handler + "/" + t.Method
}

// ParseTarget reads a notification target: an http:// or https:// URL (a
// webhook), or handler:NAME[/METHOD] (the handler's METHOD, default
// notify.send). field names the key for the error.
func ParseTarget(fieldName, s string) (Target, error) {
	fix := `use an https:// URL (a webhook) or handler:NAME[/METHOD] (default method ` + DefaultNotifyMethod + `), or "none"`
	if rest, ok := strings.CutPrefix(s, "handler:"); ok {
		name, method, _ := strings.Cut(rest, "/")
		if method == "" {
			method = DefaultNotifyMethod
		}
		if err := validID(fieldName, name); err != nil {
			return Target{}, field.Errorf(fieldName, "handler name %q is not valid", name).WithFix("%s", fix)
		}
		return Target{Handler: name, Method: method}, nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return Target{}, field.Errorf(fieldName, "%q is not a notification target", s).WithFix("%s", fix)
	}
	return Target{URL: s}, nil
}

// validateNotify checks the notification keys of the policy.
func (p Policy) validateNotify() error {
	for _, f := range []struct{ name, v string }{
		{"on_failure", p.OnFailure}, {"on_missed", p.OnMissed}, {"on_recovery", p.OnRecovery}, {"on_dead_man", p.OnDeadMan},
	} {
		if f.v == "" || f.v == TargetNone {
			continue
		}
		if _, err := ParseTarget(f.name, f.v); err != nil {
			return err
		}
	}
	if p.DeadManAfter < 0 {
		return field.Errorf("dead_man_after", "is negative").WithFix("use zero for the scheduler's default, or a positive duration")
	}
	if p.DeadManAfter > 0 && p.OnDeadMan == TargetNone {
		return field.Errorf("dead_man_after", "is set while on_dead_man is %q", TargetNone).WithFix("drop dead_man_after, or name a target in on_dead_man")
	}
	return nil
}
