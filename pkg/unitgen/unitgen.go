package unitgen

import (
	"bytes"
	"embed"
	"fmt"
	"path"
	"regexp"
	"strings"
	"text/template"
	"time"
)

//go:embed templates/*.tmpl
var templates embed.FS

// Config is everything that varies between builds of the units.
type Config struct {
	// Prefix is where the binaries are installed: daemons in Prefix/sbin,
	// the CLI in Prefix/bin. "/usr" for packages.
	Prefix string
	// User and Group run every daemon; a dedicated system account created
	// by the sysusers.d file.
	User  string
	Group string
	// Name is the base of every directory: /var/lib/Name, /run/Name,
	// /etc/Name, /etc/default/Name.
	Name string
	// WatchdogSec is the watchdog of every daemon; they ping at half of it.
	WatchdogSec time.Duration
	// TimeoutStopSec bounds a stop; the scheduler's soft-stop budget
	// (--stop-timeout, 10s by default) must stay below it.
	TimeoutStopSec time.Duration
	// RestartSec is the pause before systemd restarts a failed daemon.
	RestartSec time.Duration
}

// Default returns the configuration of the packaged units.
func Default() Config {
	return Config{
		Prefix:         "/usr",
		User:           "schedulezero",
		Group:          "schedulezero",
		Name:           "schedulezero",
		WatchdogSec:    10 * time.Second,
		TimeoutStopSec: 30 * time.Second,
		RestartSec:     2 * time.Second,
	}
}

var nameRE = regexp.MustCompile(`^[a-z_][a-z0-9_-]*$`)

// Validate reports the first field that cannot produce valid units.
func (c Config) Validate() error {
	switch {
	case !path.IsAbs(c.Prefix) || path.Clean(c.Prefix) != c.Prefix:
		return fmt.Errorf("prefix %q: must be a clean absolute path: %w", c.Prefix, ErrInvalidConfig)
	case !nameRE.MatchString(c.User):
		return fmt.Errorf("user %q: must match %s: %w", c.User, nameRE, ErrInvalidConfig)
	case !nameRE.MatchString(c.Group):
		return fmt.Errorf("group %q: must match %s: %w", c.Group, nameRE, ErrInvalidConfig)
	case !nameRE.MatchString(c.Name):
		return fmt.Errorf("name %q: must match %s: %w", c.Name, nameRE, ErrInvalidConfig)
	case c.WatchdogSec < time.Second || c.WatchdogSec%time.Second != 0:
		return fmt.Errorf("watchdog %v: must be whole seconds, at least 1s: %w", c.WatchdogSec, ErrInvalidConfig)
	case c.TimeoutStopSec < time.Second || c.TimeoutStopSec%time.Second != 0:
		return fmt.Errorf("timeout stop %v: must be whole seconds, at least 1s: %w", c.TimeoutStopSec, ErrInvalidConfig)
	case c.RestartSec < 0 || c.RestartSec%time.Second != 0:
		return fmt.Errorf("restart %v: must be whole seconds: %w", c.RestartSec, ErrInvalidConfig)
	}
	return nil
}

// Files lists the names Render produces, in a stable order.
func Files() []string {
	return []string{
		"schedulezero-governor.service",
		"schedulezero-handler@.service",
		"schedulezero-scheduler.service",
		"schedulezero-scheduler.socket",
		"schedulezero-scheduler@.service",
		"schedulezero.sysusers",
		"schedulezero.target",
		"schedulezero.tmpfiles",
	}
}

// Services lists the service units among Files (what `systemd-analyze
// security` scores).
func Services() []string {
	var out []string
	for _, f := range Files() {
		if strings.HasSuffix(f, ".service") {
			out = append(out, f)
		}
	}
	return out
}

// Render returns file name → contents for every file in Files.
func Render(c Config) (map[string][]byte, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	t, err := template.New("").Funcs(template.FuncMap{
		"sec": func(d time.Duration) string { return fmt.Sprintf("%ds", int(d/time.Second)) },
	}).ParseFS(templates, "templates/*.tmpl")
	if err != nil {
		return nil, fmt.Errorf("parse unit templates: %w", err)
	}
	out := make(map[string][]byte, len(Files()))
	for _, name := range Files() {
		var buf bytes.Buffer
		if err := t.ExecuteTemplate(&buf, name+".tmpl", c); err != nil {
			return nil, fmt.Errorf("render %s: %w", name, err)
		}
		out[name] = buf.Bytes()
	}
	return out, nil
}
