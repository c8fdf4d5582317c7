package unitgen_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/schedulezero/schedulezero/pkg/unitgen"
)

var update = flag.Bool("update", false, "rewrite units/ from the generator")

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// unitsDir is the checked-in copy, units/ at the module root.
const unitsDir = "../../units"

// MaxExposure is the highest `systemd-analyze security` score a unit may
// have (issue 4).
const MaxExposure = 2.0

func TestUnitsUpToDate(t *testing.T) {
	if *update {
		if err := unitgen.Write(unitsDir, unitgen.Default()); err != nil {
			t.Fatal(err)
		}
	}
	differ, extra, err := unitgen.Stale(unitsDir, unitgen.Default())
	if err != nil {
		t.Fatal(err)
	}
	if len(differ) > 0 {
		t.Errorf("units/ differs from pkg/unitgen in %s: run `make units` and commit the result", strings.Join(differ, ", "))
	}
	if len(extra) > 0 {
		t.Errorf("units/ has files the generator does not produce: %s; add them to pkg/unitgen or remove them", strings.Join(extra, ", "))
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*unitgen.Config)
		field  string
	}{
		{"relative prefix", func(c *unitgen.Config) { c.Prefix = "usr" }, "prefix"},
		{"unclean prefix", func(c *unitgen.Config) { c.Prefix = "/usr/" }, "prefix"},
		{"bad user", func(c *unitgen.Config) { c.User = "Sched Zero" }, "user"},
		{"bad group", func(c *unitgen.Config) { c.Group = "" }, "group"},
		{"bad name", func(c *unitgen.Config) { c.Name = "../etc" }, "name"},
		{"sub-second watchdog", func(c *unitgen.Config) { c.WatchdogSec = 500 * time.Millisecond }, "watchdog"},
		{"no stop timeout", func(c *unitgen.Config) { c.TimeoutStopSec = 0 }, "timeout stop"},
		{"stop budget too close to the stop timeout", func(c *unitgen.Config) { c.StopBudget = 28 * time.Second }, "stop budget"},
		{"negative restart", func(c *unitgen.Config) { c.RestartSec = -time.Second }, "restart"},
		{"bad umask", func(c *unitgen.Config) { c.UMask = "027" }, "umask"},
		{"bad doc url", func(c *unitgen.Config) { c.DocURL = "docs/operations.md" }, "doc url"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := unitgen.Default()
			tc.change(&c)
			err := c.Validate()
			if !errors.Is(err, unitgen.ErrInvalidConfig) || !strings.HasPrefix(err.Error(), tc.field+" ") {
				t.Fatalf("Validate() = %v, want ErrInvalidConfig naming %q", err, tc.field)
			}
			if _, err := unitgen.Render(c); !errors.Is(err, unitgen.ErrInvalidConfig) {
				t.Errorf("Render() = %v, want ErrInvalidConfig", err)
			}
		})
	}
	if err := unitgen.Default().Validate(); err != nil {
		t.Errorf("Default() is invalid: %v", err)
	}
}

// TestRender checks the promises the docs make about the units, so that an
// edit of a template that breaks one fails here and not on a server.
func TestRender(t *testing.T) {
	files, err := unitgen.Render(unitgen.Default())
	if err != nil {
		t.Fatal(err)
	}
	daemon := []string{"Type=notify", "NotifyAccess=main", "WatchdogSec=10s", "Restart=on-failure",
		"TimeoutStopSec=30s", "ExecReload=/bin/kill -HUP $MAINPID", "User=schedulezero", "Group=schedulezero",
		"RuntimeDirectoryMode=0750", "RuntimeDirectoryPreserve=yes", "ProtectSystem=strict", "CapabilityBoundingSet=",
		"NoNewPrivileges=yes", "UMask=0007", "PartOf=schedulezero.target", "WantedBy=schedulezero.target",
		"EnvironmentFile=-/etc/default/schedulezero"}
	for _, tc := range []struct {
		file string
		want []string
	}{
		{"schedulezero-scheduler.service", append(daemon,
			"ExecStart=/usr/sbin/schedulezero-scheduler\n", "StateDirectory=schedulezero\n", "RuntimeDirectory=schedulezero\n",
			"Environment=SZ_ZMQ_BIND=ipc:///run/schedulezero/zmq.sock", "Environment=SZ_HTTP_LISTEN=unix:/run/schedulezero/api.sock",
			"Environment=SZ_STOP_TIMEOUT=20s", "LoadCredential=api-token:schedulezero-api-token",
			"LoadCredential=handler-secret:/etc/schedulezero/handler-secrets")},
		{"schedulezero-scheduler@.service", append(daemon,
			"StateDirectory=schedulezero/%i\n", "RuntimeDirectory=schedulezero/%i\n",
			"Environment=SZ_ZMQ_BIND=ipc:///run/schedulezero/%i/zmq.sock", "Environment=SZ_HTTP_LISTEN=unix:/run/schedulezero/%i/api.sock",
			"EnvironmentFile=-/etc/schedulezero/deployments/%i.env", "LoadCredential=api-token:schedulezero-%i-api-token",
			"LoadCredential=handler-secret:/etc/schedulezero/handler-secrets")},
		{"schedulezero-handler@.service", append(daemon,
			"ExecStart=/usr/sbin/schedulezero-handler --name %i\n", "RuntimeDirectory=schedulezero\n",
			"EnvironmentFile=-/etc/schedulezero/handlers/%i.env", "LoadCredential=handler-secret:schedulezero-handler-%i",
			"KillMode=mixed")},
		{"schedulezero-governor.service", append(daemon,
			"ExecStart=/usr/sbin/schedulezero-governor\n", "ReadWritePaths=/etc/schedulezero/handlers",
			"Environment=SZ_SCHEDULER=ipc:///run/schedulezero/zmq.sock", "After=dbus.service")},
		{"schedulezero-scheduler.socket", []string{"ListenStream=/run/schedulezero/api.sock", "FileDescriptorName=api",
			"SocketMode=0660", "Service=schedulezero-scheduler.service", "WantedBy=sockets.target"}},
		{"schedulezero.target", []string{"Wants=schedulezero-scheduler.service schedulezero-governor.service", "WantedBy=multi-user.target"}},
		{"schedulezero.sysusers", []string{`u schedulezero - "ScheduleZero job scheduler" /var/lib/schedulezero`}},
		{"schedulezero.tmpfiles", []string{"d /etc/schedulezero/handlers 2770 root schedulezero -",
			"d /etc/schedulezero/handler-secrets 0700 root root -"}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			got := string(files[tc.file])
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("%s lacks %q", tc.file, w)
				}
			}
		})
	}
	if got := len(files); got != len(unitgen.Files()) {
		t.Errorf("Render made %d files, Files lists %d", got, len(unitgen.Files()))
	}
}

func TestRender_OtherConfig(t *testing.T) {
	c := unitgen.Default()
	c.Prefix, c.User, c.Group, c.Name = "/opt/sz", "szuser", "szgroup", "sz"
	files, err := unitgen.Render(c)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"schedulezero-scheduler.service": "ExecStart=/opt/sz/sbin/schedulezero-scheduler",
		"schedulezero-handler@.service":  "User=szuser\nGroup=szgroup",
		"schedulezero.sysusers":          "g szgroup -\nm szuser szgroup",
		"schedulezero-governor.service":  "ReadWritePaths=/etc/sz/handlers",
	} {
		if !strings.Contains(string(files[name]), want) {
			t.Errorf("%s lacks %q:\n%s", name, want, files[name])
		}
	}
}

// analyze runs systemd-analyze, or skips the test when it is absent.
func analyze(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	bin, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed (apt-get install systemd); unit checks skipped")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "SYSTEMD_COLORS=0", "SYSTEMD_PAGER=cat", "LC_ALL=C")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	return out.String(), err
}

// renderWithStubs renders the units into a temp dir with a prefix under
// which stub executables stand in for the binaries, since verify checks
// that ExecStart= names an executable. Only the prefix differs from units/.
func renderWithStubs(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	prefix := filepath.Join(root, "prefix")
	for _, bin := range []string{"schedulezero-scheduler", "schedulezero-handler", "schedulezero-governor"} {
		p := filepath.Join(prefix, "sbin", bin)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	c := unitgen.Default()
	c.Prefix = prefix
	dir := filepath.Join(root, "units")
	if err := unitgen.Write(dir, c); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestUnitsVerify runs `systemd-analyze verify` on every unit. The e2e
// suite runs it again on the installed units/ inside a booted systemd.
func TestUnitsVerify(t *testing.T) {
	dir := renderWithStubs(t)
	for _, u := range unitgen.Units() {
		t.Run(u, func(t *testing.T) {
			// --man=no: the man pages are installed by the package, not here.
			out, err := analyze(t, dir, "verify", "--man=no", "./"+u)
			if err != nil || strings.TrimSpace(out) != "" {
				t.Errorf("systemd-analyze verify %s: %v\n%s", u, err, out)
			}
		})
	}
}

var exposureRE = regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+)`)

// TestUnitsSecurity scores each service offline (systemd-analyze security
// --offline=yes, systemd 250+). The e2e suite scores the loaded units in a
// real systemd; both must stay at or below MaxExposure.
func TestUnitsSecurity(t *testing.T) {
	dir := renderWithStubs(t)
	for _, u := range unitgen.Services() {
		t.Run(u, func(t *testing.T) {
			out, err := analyze(t, dir, "security", "--offline=yes", "--no-pager", "./"+u)
			m := exposureRE.FindStringSubmatch(out)
			if m == nil {
				if strings.Contains(out, "--offline") {
					t.Skipf("this systemd-analyze has no offline security mode: %s", strings.TrimSpace(out))
				}
				t.Fatalf("no exposure score from systemd-analyze security %s: %v\n%s", u, err, out)
			}
			score, _ := strconv.ParseFloat(m[1], 64)
			t.Logf("%s: exposure %.1f", u, score)
			if score > MaxExposure {
				t.Errorf("%s: exposure %.1f > %.1f\n%s", u, score, MaxExposure, out)
			}
		})
	}
}
