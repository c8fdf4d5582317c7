package schedimport

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/schedulezero/schedulezero/pkg/handler/exec"
	"github.com/schedulezero/schedulezero/pkg/store"
	"github.com/schedulezero/schedulezero/pkg/trigger"
)

// cronNicknames are the @ forms the cron trigger reads as they are.
var cronNicknames = map[string]bool{"@yearly": true, "@annually": true, "@monthly": true, "@weekly": true,
	"@daily": true, "@midnight": true, "@hourly": true}

// Crontab converts the lines of a crontab (crontab(5), Vixie and cronie
// syntax): each job line becomes a schedule (Cron= with the line's five
// fields, TimeZone= from CRON_TZ) whose exec method runs the command with
// the crontab's SHELL and environment. @reboot, MAILTO and commands with
// an unescaped % (cron's stdin) are reported as not convertible.
func Crontab(name string, data []byte, o Options) (*Result, error) {
	r := &Result{Handler: o.Handler}
	if r.Handler == "" {
		r.Handler = "cron"
	}
	prefix := o.Prefix
	if prefix == "" {
		prefix = slug(filepath.Base(name))
	}
	shell, zone := "/bin/sh", ""
	env := map[string]string{}
	for i, line := range strings.Split(string(data), "\n") {
		n := i + 1
		t := strings.TrimSpace(line)
		if t == "" || t[0] == '#' {
			continue
		}
		if k, v, ok := envLine(t); ok {
			switch k {
			case "SHELL":
				shell = v
			case "CRON_TZ":
				if _, err := time.LoadLocation(v); err != nil {
					return nil, fmt.Errorf("%s:%d: CRON_TZ=%s: unknown time zone: %w", name, n, v, err)
				}
				zone = v
			case "MAILTO", "MAILFROM":
				r.problem(name, n, t, "cron mails the output; the exec handler keeps it in the execution history instead (schedulezero history)", false)
			default:
				env[k] = v
			}
			continue
		}
		fields := strings.Fields(t)
		var spec string
		var rest []string
		switch {
		case fields[0] == "@reboot":
			r.problem(name, n, t, "@reboot runs at boot, not on a calendar; use a systemd unit with WantedBy=multi-user.target", false)
			continue
		case cronNicknames[fields[0]]:
			spec, rest = fields[0], fields[1:]
		case strings.HasPrefix(fields[0], "@"):
			r.problem(name, n, t, fmt.Sprintf("%s is not a cron nickname", fields[0]), false)
			continue
		case len(fields) >= 6:
			spec, rest = strings.Join(fields[:5], " "), fields[5:]
		default:
			r.problem(name, n, t, "has fewer than five time fields and a command", false)
			continue
		}
		user := ""
		if o.System {
			if len(rest) == 0 {
				r.problem(name, n, t, "has no user field (a system crontab's sixth field)", false)
				continue
			}
			user, rest = rest[0], rest[1:]
		}
		if len(rest) == 0 {
			r.problem(name, n, t, "has no command", false)
			continue
		}
		// The command is the rest of the line as written, spaces kept.
		cmd := commandText(t, len(strings.Fields(t))-len(rest))
		if i := unescapedPercent(cmd); i >= 0 {
			r.problem(name, n, t, "% in a cron command starts its standard input; write \\% for a literal %, or move the input into a script", false)
			continue
		}
		cmd = strings.ReplaceAll(cmd, `\%`, "%")
		trig, _ := json.Marshal(map[string]string{"type": "cron", "expr": spec})
		if _, _, err := trigger.Parse(trig, time.Now(), time.UTC); err != nil {
			r.problem(name, n, t, fmt.Sprintf("the time fields %q: %v", spec, err), false)
			continue
		}
		id := fmt.Sprintf("%s-%d", prefix, n)
		if user != "" && user != "root" {
			r.problem(name, n, t, fmt.Sprintf("cron runs it as %s; the exec handler runs it as its own user (User= of schedulezero-handler@%s)", user, r.Handler), true)
		}
		s := store.Schedule{ID: id, Method: id, Trigger: trig, Timezone: zone,
			Policy: store.Policy{Misfire: store.MisfireSkip}} // cron does not catch up
		command := exec.Command{Command: []string{shell, "-c", cmd}}
		if len(env) > 0 {
			command.Env = clone(env)
		}
		origin := fmt.Sprintf("%s:%d", name, n)
		r.add(s, command, origin, "imported from "+origin+"\n"+t)
	}
	return r, nil
}

// envLine reads NAME=value (spaces around = allowed, one pair of quotes
// stripped), as cron does; a job line is not one.
func envLine(t string) (string, string, bool) {
	k, v, ok := strings.Cut(t, "=")
	if !ok {
		return "", "", false
	}
	k = strings.TrimSpace(k)
	if k == "" || strings.ContainsAny(k, " \t*/@") || strings.ContainsAny(k[:1], "0123456789") {
		return "", "", false
	}
	v = strings.TrimSpace(v)
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
		v = v[1 : len(v)-1]
	}
	return k, v, true
}

// commandText is line without its first skip fields.
func commandText(line string, skip int) string {
	s := line
	for range skip {
		s = strings.TrimLeft(s, " \t")
		i := strings.IndexAny(s, " \t")
		if i < 0 {
			return ""
		}
		s = s[i:]
	}
	return strings.TrimSpace(s)
}

// unescapedPercent is the index of the first % not preceded by \, or -1.
func unescapedPercent(s string) int {
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' {
			i++
			continue
		}
		if s[i] == '%' {
			return i
		}
	}
	return -1
}

func clone(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
