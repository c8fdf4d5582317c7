package unitgen

import (
	"bytes"
	"embed"
	"fmt"
	"os"
	"path"
	"path/filepath"
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
	// TimeoutStopSec bounds a stop before systemd sends SIGKILL.
	TimeoutStopSec time.Duration
	// StopBudget is how long the scheduler lets running attempts finish on
	// stop (SZ_STOP_TIMEOUT); it must leave TimeoutStopSec at least 5s for
	// closing the store and sockets.
	StopBudget time.Duration
	// RestartSec is the pause before systemd restarts a failed daemon.
	RestartSec time.Duration
	// UMask of the daemons: 0007 keeps files and sockets from other users
	// while the group (local clients, a Python handler) may connect.
	UMask string
	// DocURL is the operations guide named in Documentation=.
	DocURL string
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
		StopBudget:     20 * time.Second,
		RestartSec:     2 * time.Second,
		UMask:          "0007",
		DocURL:         "https://github.com/schedulezero/schedulezero/blob/main/docs/operations.md",
	}
}

var (
	nameRE  = regexp.MustCompile(`^[a-z_][a-z0-9_-]*$`)
	umaskRE = regexp.MustCompile(`^0[0-7]{3}$`)
	urlRE   = regexp.MustCompile(`^https?://[^\s]+$`)
)

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
	case c.StopBudget < time.Second || c.StopBudget%time.Second != 0 || c.StopBudget > c.TimeoutStopSec-5*time.Second:
		return fmt.Errorf("stop budget %v: must be whole seconds, at least 1s and 5s below the stop timeout %v: %w", c.StopBudget, c.TimeoutStopSec, ErrInvalidConfig)
	case c.RestartSec < 0 || c.RestartSec%time.Second != 0:
		return fmt.Errorf("restart %v: must be whole seconds: %w", c.RestartSec, ErrInvalidConfig)
	case !umaskRE.MatchString(c.UMask):
		return fmt.Errorf("umask %q: must be four octal digits such as 0007: %w", c.UMask, ErrInvalidConfig)
	case !urlRE.MatchString(c.DocURL):
		return fmt.Errorf("doc url %q: must be an http(s) URL: %w", c.DocURL, ErrInvalidConfig)
	}
	return nil
}

// Files lists the names Render produces, in a stable order.
func Files() []string {
	return []string{
		"README.md",
		"schedulezero-governor.service",
		"schedulezero-handler-disable@.service",
		"schedulezero-handler-enable@.service",
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
func Services() []string { return withSuffix(".service") }

// Units lists the systemd units among Files (what `systemd-analyze verify`
// checks): services, the socket and the target.
func Units() []string {
	var out []string
	for _, f := range Files() {
		switch path.Ext(f) {
		case ".service", ".socket", ".target":
			out = append(out, f)
		}
	}
	return out
}

func withSuffix(suffix string) []string {
	var out []string
	for _, f := range Files() {
		if strings.HasSuffix(f, suffix) {
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

// Write renders c into dir (created if missing), overwriting the files of
// Files and leaving any other file alone.
func Write(dir string, c Config) error {
	files, err := Render(c)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("units directory %q: %w", dir, err)
	}
	for _, name := range Files() {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, files[name], 0o644); err != nil {
			return fmt.Errorf("write %s: %w", p, err)
		}
	}
	return nil
}

// Stale compares dir with what Render(c) produces and returns, sorted, the
// files of Files that are missing or differ, and the files in dir that the
// generator does not produce (a unit added by hand).
func Stale(dir string, c Config) (differ, extra []string, err error) {
	files, err := Render(c)
	if err != nil {
		return nil, nil, err
	}
	for _, name := range Files() {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || !bytes.Equal(got, files[name]) {
			differ = append(differ, name)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("units directory %q: %w", dir, err)
	}
	for _, e := range entries {
		if _, ok := files[e.Name()]; !ok {
			extra = append(extra, e.Name())
		}
	}
	return differ, extra, nil
}
