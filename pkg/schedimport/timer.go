package schedimport

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/coreos/go-systemd/v22/unit"

	"github.com/schedulezero/schedulezero/pkg/handler/exec"
	"github.com/schedulezero/schedulezero/pkg/schedfile"
	"github.com/schedulezero/schedulezero/pkg/store"
)

// Timer converts a systemd timer and the service it starts: each
// OnCalendar= (and OnUnitActiveSec=) becomes a schedule with the timer's
// RandomizedDelaySec=, FixedRandomDelay=, AccuracySec= and Persistent=
// (absent is Persistent=no: no catch-up, as systemd), and the exec method
// runs the service's ExecStartPre= and ExecStart= lines in order, with its
// Environment= and WorkingDirectory=. Boot-relative triggers are not
// convertible; what the handler's unit must do instead (User=, sandboxing)
// is noted.
func Timer(timerName string, timerData, serviceData []byte, serviceName string, o Options) (*Result, error) {
	r := &Result{Handler: o.Handler}
	if r.Handler == "" {
		r.Handler = "timers"
	}
	topts, err := unit.DeserializeOptions(bytes.NewReader(timerData))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", timerName, err)
	}
	sopts, err := unit.DeserializeOptions(bytes.NewReader(serviceData))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", serviceName, err)
	}
	lines := unitLines(timerData)
	base := strings.TrimSuffix(filepath.Base(timerName), ".timer")
	var pol store.Policy
	pol.Misfire = store.MisfireSkip
	fixed := false
	type trig struct {
		obj  map[string]any
		line int
		text string
	}
	var trigs []trig
	for _, op := range topts {
		if op.Section != "Timer" {
			continue
		}
		line := lines[op.Name+"="+op.Value]
		text := op.Name + "=" + op.Value
		switch op.Name {
		case "OnCalendar":
			if op.Value == "" {
				trigs = nil
				continue
			}
			trigs = append(trigs, trig{map[string]any{"type": "calendar", "expr": op.Value}, line, text})
		case "OnUnitActiveSec":
			d, err := schedfile.ParseSpan(op.Value)
			if err != nil || d <= 0 {
				r.problem(timerName, line, text, "not a time span this import reads", false)
				continue
			}
			trigs = append(trigs, trig{map[string]any{"type": "interval", "seconds": d.Seconds()}, line, text})
		case "OnBootSec", "OnStartupSec", "OnActiveSec", "OnUnitInactiveSec":
			r.problem(timerName, line, text, "counts from boot, the timer's start or the service's end, which a schedule does not know; use OnCalendar= or OnUnitActiveSec=", false)
		case "RandomizedDelaySec", "AccuracySec", "RandomizedOffsetSec":
			d, err := schedfile.ParseSpan(op.Value)
			if err != nil || d < 0 {
				r.problem(timerName, line, text, "not a time span this import reads", false)
				continue
			}
			switch op.Name {
			case "RandomizedDelaySec":
				pol.RandomDelay = d
			case "RandomizedOffsetSec":
				pol.RandomOffset = d
			default:
				pol.GraceTime = d
				r.problem(timerName, line, text, "systemd may fire this much late to coalesce wake-ups; the schedule reads it as its grace time (a fire later than this is a misfire)", true)
			}
		case "FixedRandomDelay":
			fixed = isTrue(op.Value)
		case "Persistent":
			if isTrue(op.Value) {
				pol.Misfire = store.MisfireOnce
			}
		case "Unit", "RemainAfterElapse":
		default:
			r.problem(timerName, line, text, "has no equivalent in a schedule; ignored", true)
		}
	}
	if fixed {
		pol.RandomOffset, pol.RandomDelay = pol.RandomDelay, 0
	}
	cmd, err := serviceCommand(r, serviceName, serviceData, sopts)
	if err != nil {
		return r, nil // reported
	}
	for i, t := range trigs {
		id := slug(base)
		if i > 0 {
			id = fmt.Sprintf("%s-%d", id, i+1)
		}
		raw, _ := json.Marshal(t.obj)
		s := store.Schedule{ID: id, Method: slug(base), Trigger: raw, Policy: pol}
		origin := fmt.Sprintf("%s:%d", timerName, t.line)
		r.add(s, cmd, origin, "imported from "+origin+" ("+t.text+") and "+serviceName)
	}
	if len(trigs) == 0 {
		r.problem(timerName, 0, "", "has no OnCalendar= or OnUnitActiveSec=: nothing to schedule", false)
	}
	return r, nil
}

// serviceCommand is the exec command of a service's ExecStartPre= and
// ExecStart= lines.
func serviceCommand(r *Result, name string, data []byte, opts []*unit.UnitOption) (exec.Command, error) {
	lines := unitLines(data)
	var cmd exec.Command
	var steps [][]string
	var ignoreFail []bool
	var ignored []string
	for _, op := range opts {
		if op.Section != "Service" {
			continue
		}
		line := lines[op.Name+"="+op.Value]
		text := op.Name + "=" + op.Value
		switch op.Name {
		case "ExecStartPre", "ExecStart":
			v := op.Value
			ignore := false
			for len(v) > 0 && strings.ContainsRune("-@:+!", rune(v[0])) {
				switch v[0] {
				case '-':
					ignore = true
				case '+', '!':
					r.problem(name, line, text, "runs with full privileges in systemd; the exec handler runs it as its own user", true)
				case '@':
					r.problem(name, line, text, "sets argv[0] (@); not convertible", false)
					return cmd, fmt.Errorf("not convertible")
				}
				v = v[1:]
			}
			words, err := splitWords(v)
			if err != nil {
				r.problem(name, line, text, err.Error(), false)
				return cmd, err
			}
			steps = append(steps, words)
			ignoreFail = append(ignoreFail, ignore)
		case "Environment":
			words, err := splitWords(op.Value)
			if err != nil {
				r.problem(name, line, text, err.Error(), false)
				return cmd, err
			}
			for _, w := range words {
				if k, v, ok := strings.Cut(w, "="); ok {
					if cmd.Env == nil {
						cmd.Env = map[string]string{}
					}
					cmd.Env[k] = v
				}
			}
		case "WorkingDirectory":
			cmd.Dir = strings.TrimPrefix(op.Value, "-")
		case "User", "Group":
			r.problem(name, line, text, "the exec handler runs commands as its own user: run a handler for this job with "+op.Name+"= in a drop-in of its unit", true)
		case "Type", "RemainAfterExit":
		default:
			ignored = append(ignored, op.Name+"=")
		}
	}
	if len(ignored) > 0 {
		r.problem(name, 0, "", "not carried over (set them on the handler's unit if they matter): "+strings.Join(ignored, " "), true)
	}
	switch len(steps) {
	case 0:
		r.problem(name, 0, "", "has no ExecStart=", false)
		return cmd, fmt.Errorf("no ExecStart")
	case 1:
		if !ignoreFail[0] {
			cmd.Command = steps[0]
			return cmd, nil
		}
	}
	// Several commands run one after the other, as systemd runs a oneshot
	// service's, stopping at the first failure unless "-" said otherwise.
	parts := make([]string, len(steps))
	for i, s := range steps {
		q := make([]string, len(s))
		for j, w := range s {
			q[j] = shellQuote(w)
		}
		parts[i] = strings.Join(q, " ")
		if ignoreFail[i] {
			parts[i] += " || true"
		}
	}
	cmd.Command = []string{"/bin/sh", "-c", "set -e; " + strings.Join(parts, "; ")}
	return cmd, nil
}

// splitWords splits a command line as systemd.service(5) does: words
// separated by spaces, "..." and '...' quoting, backslash escapes.
// Specifiers (%n) and $VARIABLES, which systemd expands, are refused.
func splitWords(s string) ([]string, error) {
	var out []string
	var cur strings.Builder
	inWord := false
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s):
			i++
			switch s[i] {
			case 'n':
				cur.WriteByte('\n')
			case 't':
				cur.WriteByte('\t')
			default:
				cur.WriteByte(s[i])
			}
			inWord = true
		case quote != 0 && c == quote:
			quote = 0
		case quote == 0 && (c == '"' || c == '\''):
			quote, inWord = c, true
		case quote == 0 && (c == ' ' || c == '\t' || c == '\n'):
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		case c == '%':
			if i+1 < len(s) && s[i+1] == '%' {
				i++
				cur.WriteByte('%')
				inWord = true
				continue
			}
			return nil, fmt.Errorf("uses the systemd specifier %%%c, which only systemd expands", s[min(i+1, len(s)-1)])
		case c == '$' && quote != '\'':
			return nil, fmt.Errorf("uses $ environment expansion, which only systemd does; write the value, or wrap the command in /bin/sh -c")
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("has an unclosed %c quote", quote)
	}
	if inWord {
		out = append(out, cur.String())
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("is empty")
	}
	return out, nil
}

// shellQuote quotes w for /bin/sh when it needs it.
func shellQuote(w string) string {
	if w != "" && !strings.ContainsAny(w, " \t\n'\"\\$`*?[]{}()<>|&;#~!") {
		return w
	}
	return "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
}

func isTrue(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "1", "yes", "true", "on":
		return true
	}
	return false
}

// unitLines maps "Key=value" (trimmed) to its first line in data.
func unitLines(data []byte) map[string]int {
	out := map[string]int{}
	for i, l := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(l), "=")
		if !ok {
			continue
		}
		key := strings.TrimSpace(k) + "=" + strings.TrimSpace(v)
		if _, seen := out[key]; !seen {
			out[key] = i + 1
		}
	}
	return out
}
