package e2e

// The governor in a real systemd (systemd 252 as PID 1 of a systemd-nspawn
// container booted by sandbox.sh, with polkitd): the governor runs as the
// packaged unit, as its unprivileged user under its hardening, talks to
// PID 1 over D-Bus, and is driven through `schedulezero handlers`:
//
//  1. add makes schedulezero-handler@NAME enabled, active and registered
//     with the scheduler; status matches `systemctl show`; remove stops,
//     disables and cleans it;
//  2. a SIGKILLed handler and a SIGSTOPped one are detected and restarted,
//     the journal says why, and the restart budget stops a crash loop
//     (detection and restart latencies are logged);
//  3. as user schedulezero, with the shipped polkit rule, the handler units
//     can be managed and every other unit is refused (pkg/unitctl's test
//     binary, run inside as a transient unit of that user).
//
// Needs root and SZ_E2E=1 (`make e2e`). The sandbox is its own
// (SBX_NAME=sz-gov, SBX_DIR=<default>-gov) with polkitd in its rootfs:
// polkitd, its JavaScript engine (duktape) and GLib add about 5 MB
// installed and a few seconds to the one-time debootstrap (~40 s in all).

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/governor"
	"github.com/schedulezero/schedulezero/pkg/unitgen"
)

const (
	govSandboxName = "sz-gov"
	govPoll        = 50 * time.Millisecond
	govWait        = 30 * time.Second
	govUnit        = "schedulezero-governor.service"
	govScheduler   = "schedulezero-scheduler.service"
	// The governor checks every 500ms and calls a handler hung after 3
	// failed pings: detection of a SIGSTOP within about 1.5s.
	govCheckInterval = 500 * time.Millisecond
	govFailedChecks  = 3
)

// govInstall installs what the package installs, from /sbx, and starts the
// scheduler and the governor (checking fast, for the hang test).
const govInstall = `set -e
install -m 0755 /sbx/bin/schedulezero /usr/bin/
install -m 0755 /sbx/bin/schedulezero-scheduler /sbx/bin/schedulezero-handler /sbx/bin/schedulezero-governor /usr/sbin/
install -m 0644 /sbx/units/*.service /sbx/units/*.target /usr/lib/systemd/system/
install -m 0644 /sbx/units/schedulezero.sysusers /usr/lib/sysusers.d/schedulezero.conf
install -m 0644 /sbx/units/schedulezero.tmpfiles /usr/lib/tmpfiles.d/schedulezero.conf
install -D -m 0644 /sbx/schedulezero-governor.rules /usr/share/polkit-1/rules.d/schedulezero-governor.rules
mkdir -p /etc/systemd/system/schedulezero-governor.service.d
printf '[Service]\nEnvironment=SZ_GOVERNOR_CHECK_INTERVAL=%s SZ_GOVERNOR_FAILED_CHECKS=%d\n' "$GOV_CHECK" "$GOV_FAILED" \
	>/etc/systemd/system/schedulezero-governor.service.d/e2e.conf
systemd-sysusers schedulezero.conf
systemd-tmpfiles --create schedulezero.conf
systemctl daemon-reload
systemctl restart polkit
systemctl start schedulezero-scheduler.service schedulezero-governor.service
`

// govEnv is the environment of sandbox.sh for this test.
func govEnv() []string { return sandboxEnv(govSandboxName, "-gov", "polkitd") }

// govBox is the governor suite's sandbox: commands in sh, whose stdout
// alone is returned (it is parsed as JSON).
type govBox struct{ *sandbox }

func newGovBox(ctx context.Context, root string) *govBox {
	b := &govBox{newSandbox(ctx, root, govEnv())}
	b.poll, b.stdoutOnly = govPoll, true
	return b
}

// show returns systemctl show's properties of unit.
func (b *govBox) show(t *testing.T, unit string, props ...string) map[string]string {
	t.Helper()
	out := b.must(t, "systemctl show -p "+strings.Join(props, ",")+" "+unit)
	m := map[string]string{}
	for line := range strings.SplitSeq(out, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			m[k] = v
		}
	}
	return m
}

// helperRan checks in the journal that the oneshot helper ran and
// finished (a finished oneshot is unloaded, so systemctl show cannot tell).
func (b *govBox) helperRan(t *testing.T, helper string) {
	t.Helper()
	out, _ := b.sh("journalctl --no-pager -o cat -u " + helper)
	if !strings.Contains(out, "Finished "+helper) {
		t.Errorf("%s did not run to completion; its journal:\n%s", helper, out)
	}
}

// status is `schedulezero --json handlers status NAME`.
func (b *govBox) status(name string) (governor.HandlerInfo, error) {
	var hi governor.HandlerInfo
	out, err := b.sh("schedulezero --json handlers status " + name)
	if err != nil {
		return hi, err
	}
	return hi, json.Unmarshal([]byte(out), &hi)
}

// govEntry is one journal entry of the governor.
type govEntry struct {
	at      time.Time
	message string
	fields  map[string]string
}

// journal returns the governor's entries since the container-side unix
// time since (microseconds), oldest first.
func (b *govBox) journal(t *testing.T, sinceUS int64) []govEntry {
	t.Helper()
	out := b.must(t, fmt.Sprintf("journalctl -u %s -o json --no-pager --since @%d.%06d", govUnit, sinceUS/1e6, sinceUS%1e6))
	var es []govEntry
	for line := range strings.SplitSeq(out, "\n") {
		var raw map[string]any
		if json.Unmarshal([]byte(line), &raw) != nil {
			continue
		}
		e := govEntry{fields: map[string]string{}}
		for k, v := range raw {
			if s, ok := v.(string); ok {
				e.fields[k] = s
			}
		}
		us, _ := strconv.ParseInt(e.fields["__REALTIME_TIMESTAMP"], 10, 64)
		e.at, e.message = time.UnixMicro(us), e.fields["MESSAGE"]
		es = append(es, e)
	}
	return es
}

// awaitLog waits for a governor entry with message msg about handler
// name (and, if given, a reason containing reason) since sinceUS.
func (b *govBox) awaitLog(t *testing.T, sinceUS int64, name, msg, reason string) govEntry {
	t.Helper()
	var found govEntry
	b.waitFor(t, fmt.Sprintf("governor log %q for %s", msg, name), govWait, func() (bool, string) {
		es := b.journal(t, sinceUS)
		for _, e := range es {
			if e.message == msg && e.fields["SZ_HANDLER"] == name && strings.Contains(e.fields["SZ_REASON"], reason) {
				found = e
				return true, ""
			}
		}
		var msgs []string
		for _, e := range es {
			msgs = append(msgs, e.message+" "+e.fields["SZ_REASON"])
		}
		return false, strings.Join(msgs, " | ")
	})
	return found
}

// signal sends sig to the handler's main process and returns the
// container's clock at the kill, in unix microseconds.
func (b *govBox) signal(t *testing.T, name, sig string) (pid string, atUS int64) {
	t.Helper()
	unit := governor.UnitName(name)
	out := b.must(t, fmt.Sprintf(`p=$(systemctl show -p MainPID --value %s); [ "$p" -gt 0 ]; date +%%s%%6N; kill -%s "$p"; echo "$p"`, unit, sig))
	f := strings.Fields(out)
	if len(f) != 2 {
		t.Fatalf("kill -%s: %q", sig, out)
	}
	at, _ := strconv.ParseInt(f[0], 10, 64)
	return f[1], at
}

// govBuild builds the binaries and pkg/unitctl's test binary for the
// container (static), and renders the units from pkg/unitgen.
func govBuild(t *testing.T, ctx context.Context, root string) (bin, units string) {
	t.Helper()
	bin = filepath.Join(t.TempDir(), "bin")
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	for _, args := range [][]string{
		{"build", "-trimpath", "-o", bin + string(os.PathSeparator), "./cmd/schedulezero", "./cmd/schedulezero-scheduler",
			"./cmd/schedulezero-handler", "./cmd/schedulezero-governor"},
		{"test", "-c", "-o", filepath.Join(bin, "unitctl.test"), "./pkg/unitctl"},
	} {
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Dir, cmd.Env = root, append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	files, err := unitgen.Render(unitgen.Default())
	if err != nil {
		t.Fatal(err)
	}
	for _, helper := range []string{"schedulezero-handler-enable@.service", "schedulezero-handler-disable@.service"} {
		if _, ok := files[helper]; !ok {
			t.Fatalf("pkg/unitgen renders no %s", helper)
		}
	}
	units = filepath.Join(t.TempDir(), "units")
	if err := os.MkdirAll(units, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(units, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return bin, units
}

func TestGovernor(t *testing.T) {
	skipUnlessE2E(t, true)
	ctx := t.Context()
	root := pkgRepoRoot(t)
	bin, units := govBuild(t, ctx, root)
	b := newGovBox(ctx, root)
	b.boot(t, func() {
		out, _ := b.sh("journalctl -u " + govUnit + " -u 'schedulezero-handler@*' --no-pager -n 80 -o short-precise")
		t.Logf("journal:\n%s", out)
	})
	script := filepath.Join(t.TempDir(), "install.sh")
	if err := os.WriteFile(script, []byte(govInstall), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := b.sbx("put", bin, units, script, filepath.Join(root, "packaging", "polkit", "schedulezero-governor.rules")); err != nil {
		t.Fatal(err)
	}
	b.must(t, fmt.Sprintf("GOV_CHECK=%s GOV_FAILED=%d sh /sbx/install.sh", govCheckInterval, govFailedChecks))
	b.waitFor(t, "the governor's API", govWait, func() (bool, string) {
		out, err := b.sh("schedulezero --json handlers --governor unix:/run/schedulezero/governor.sock list")
		return err == nil, out
	})

	const name = "dingaling2"
	unit := governor.UnitName(name)
	story := t.Run("add enables, starts and registers", func(t *testing.T) {
		t0 := time.Now()
		out := b.must(t, "schedulezero handlers add "+name+" --kind dingaling")
		t.Logf("%s (%v)", out, time.Since(t0).Round(time.Millisecond))
		if got := b.must(t, "systemctl is-enabled "+unit); got != "enabled" {
			t.Errorf("is-enabled %s = %q, want enabled", unit, got)
		}
		// Enabled through the root helper that polkit lets the governor's
		// user start, not by a grant of unit-file management.
		b.helperRan(t, "schedulezero-handler-enable@"+name+".service")
		if got := b.must(t, "systemctl is-active "+unit); got != "active" {
			t.Errorf("is-active %s = %q, want active", unit, got)
		}
		b.must(t, "test -L /etc/systemd/system/schedulezero.target.wants/"+unit)
		if got := b.must(t, "cat /etc/schedulezero/handlers/"+name+".json"); !strings.Contains(got, `"kind": "dingaling"`) {
			t.Errorf("config:\n%s", got)
		}
		b.waitFor(t, name+" registered with the scheduler", govWait, func() (bool, string) {
			out, err := b.sh("schedulezero --json handlers")
			if err != nil {
				return false, err.Error()
			}
			var l struct {
				Handlers []struct {
					ID, Status string
					Governor   *governor.HandlerInfo
				}
			}
			if err := json.Unmarshal([]byte(out), &l); err != nil {
				return false, out
			}
			for _, h := range l.Handlers {
				if h.ID == name && h.Status == "online" && h.Governor != nil && h.Governor.Healthy {
					return true, ""
				}
			}
			return false, out
		})
		t.Logf("registered and healthy %v after add", time.Since(t0).Round(time.Millisecond))
		t.Logf("schedulezero handlers:\n%s", b.must(t, "schedulezero handlers"))
	}) && t.Run("status matches systemctl show", func(t *testing.T) {
		hi, err := b.status(name)
		if err != nil {
			t.Fatal(err)
		}
		show := b.show(t, unit, "MainPID", "ActiveState", "SubState", "NRestarts", "MemoryCurrent", "StateChangeTimestampMonotonic")
		want := map[string]string{"MainPID": strconv.Itoa(hi.PID), "ActiveState": hi.State, "SubState": hi.SubState,
			"NRestarts": "0"}
		for k, v := range want {
			if show[k] != v {
				t.Errorf("systemctl show %s=%s, governor says %s (%+v)", k, show[k], v, hi)
			}
		}
		if m := show["MemoryCurrent"]; m != "[not set]" && m != "" && hi.MemoryBytes == 0 {
			t.Errorf("MemoryCurrent=%s but the governor reports none", m)
		}
		if enabled := b.must(t, "systemctl is-enabled "+unit); (enabled == "enabled") != hi.Enabled {
			t.Errorf("is-enabled %s, governor says enabled=%v", enabled, hi.Enabled)
		}
		if hi.Since.IsZero() || time.Since(hi.Since) > time.Hour {
			t.Errorf("since = %v", hi.Since)
		}
	}) && t.Run("a killed handler is restarted", func(t *testing.T) {
		pid, at := b.signal(t, name, "KILL")
		detect := b.awaitLog(t, at, name, "handler crashed; the service manager restarts it", "crashed: signal (signal SIGKILL)")
		restart := b.awaitLog(t, at, name, "handler restarted by the service manager", "signal SIGKILL")
		healthy := b.waitFor(t, "a new healthy process", govWait, func() (bool, string) {
			hi, err := b.status(name)
			return err == nil && hi.Healthy && strconv.Itoa(hi.PID) != pid, fmt.Sprintf("%+v %v", hi, err)
		})
		hi, _ := b.status(name)
		t.Logf("SIGKILL of pid %s: detected after %v, restarted by systemd (RestartSec=2s) after %v, healthy by %v; restarts=%d",
			pid, detect.at.Sub(time.UnixMicro(at)).Round(time.Millisecond), restart.at.Sub(time.UnixMicro(at)).Round(time.Millisecond),
			healthy.Sub(time.UnixMicro(at)).Round(100*time.Millisecond), hi.Restarts)
		if hi.Restarts != 1 || !strings.Contains(hi.LastError, "SIGKILL") {
			t.Errorf("after one SIGKILL: restarts=%d last error %q", hi.Restarts, hi.LastError)
		}
	}) && t.Run("a hung handler is restarted", func(t *testing.T) {
		pid, at := b.signal(t, name, "STOP")
		detect := b.awaitLog(t, at, name, "handler restart scheduled", fmt.Sprintf("hung: %d consecutive failed pings", govFailedChecks))
		restart := b.awaitLog(t, at, name, "handler restarted", "hung:")
		healthy := b.waitFor(t, "a new healthy process", govWait, func() (bool, string) {
			hi, err := b.status(name)
			return err == nil && hi.Healthy && strconv.Itoa(hi.PID) != pid, fmt.Sprintf("%+v %v", hi, err)
		})
		hi, _ := b.status(name)
		t.Logf("SIGSTOP of pid %s: detected (%d failed pings every %v) after %v, restarted by the governor after %v, healthy by %v; restarts=%d",
			pid, govFailedChecks, govCheckInterval, detect.at.Sub(time.UnixMicro(at)).Round(time.Millisecond),
			restart.at.Sub(time.UnixMicro(at)).Round(time.Millisecond), healthy.Sub(time.UnixMicro(at)).Round(100*time.Millisecond), hi.Restarts)
		if hi.Restarts != 2 {
			t.Errorf("after SIGKILL and SIGSTOP: restarts=%d, want 2", hi.Restarts)
		}
		if b.must(t, "ps -o stat= -p "+pid+" || true") != "" {
			t.Errorf("the frozen pid %s still exists", pid)
		}
	})

	// The budget: a handler that cannot bind its endpoint crashes at every
	// start; systemd restarts it (Restart=on-failure), each restart spends
	// the governor's budget of 2, and then the governor stops it for good.
	t.Run("the restart budget stops a crash loop", func(t *testing.T) {
		const loop = "crashloop"
		at, _ := strconv.ParseInt(b.must(t, "date +%s%6N"), 10, 64)
		out, err := b.sh("schedulezero handlers add " + loop + " --kind dingaling --max-restarts 2 --endpoint ipc:///nonexistent/dir/x.sock 2>&1")
		t.Logf("add %s: %v: %s", loop, err, out)
		gaveUp := b.awaitLog(t, at, loop, "handler not restarted: restart budget exhausted", "crashed:")
		hi, err := b.status(loop)
		if err != nil {
			t.Fatal(err)
		}
		if hi.Restarts != 2 || !strings.Contains(hi.LastError, governor.ErrBudgetExhausted.Error()) {
			t.Errorf("after the budget: %+v", hi)
		}
		t.Logf("crash loop stopped after %v: %s", gaveUp.at.Sub(time.UnixMicro(at)).Round(time.Millisecond), hi.LastError)
		b.waitFor(t, loop+" left down", govWait, func() (bool, string) {
			s := b.show(t, governor.UnitName(loop), "ActiveState", "SubState")
			return s["ActiveState"] == "inactive" || s["ActiveState"] == "failed", fmt.Sprint(s)
		})
		n := b.show(t, governor.UnitName(loop), "NRestarts")["NRestarts"]
		time.Sleep(5 * time.Second) // longer than RestartSec=2s: a restart would show
		if again := b.show(t, governor.UnitName(loop), "NRestarts", "ActiveState"); again["NRestarts"] != n ||
			(again["ActiveState"] != "inactive" && again["ActiveState"] != "failed") {
			t.Errorf("restarts went on after the budget: NRestarts %s -> %v", n, again)
		}
		b.must(t, "schedulezero handlers remove "+loop)
	})

	t.Run("remove stops, disables and cleans up", func(t *testing.T) {
		b.must(t, "schedulezero handlers remove "+name)
		if got, _ := b.sh("systemctl is-active " + unit); got != "inactive" {
			t.Errorf("is-active %s = %q, want inactive", unit, got)
		}
		if got, _ := b.sh("systemctl is-enabled " + unit); got != "disabled" {
			t.Errorf("is-enabled %s = %q, want disabled", unit, got)
		}
		b.helperRan(t, "schedulezero-handler-disable@"+name+".service")
		for _, p := range []string{"/etc/schedulezero/handlers/" + name + ".json", "/etc/schedulezero/handlers/" + name + ".governor",
			"/etc/systemd/system/schedulezero.target.wants/" + unit} {
			if _, err := b.sh("test ! -e " + p + " && test ! -L " + p); err != nil {
				t.Errorf("%s left after remove", p)
			}
		}
		if _, err := b.status(name); err == nil {
			t.Errorf("status of a removed handler succeeded")
		}
	})

	t.Run("the governor's user manages only handler units", func(t *testing.T) {
		if got := b.must(t, "ps -o user= -p $(systemctl show -p MainPID --value "+govUnit+")"); got != "schedulezero" {
			t.Errorf("the governor runs as %q, want schedulezero", got)
		}
		// The handler the polkit test drives, configured by hand.
		b.must(t, `printf '{"kind":"dingaling","endpoint":"tcp://127.0.0.1:47311"}\n' >/etc/schedulezero/handlers/polkit1.json`)
		out, err := b.sh("systemd-run --quiet --wait --pipe --collect --uid=schedulezero --gid=schedulezero " +
			"-E SZ_E2E_POLKIT=1 -E SZ_E2E_HANDLER=polkit1 /sbx/bin/unitctl.test -test.v -test.run TestE2E_Polkit 2>&1")
		t.Logf("as user schedulezero:\n%s", out)
		if err != nil || !strings.Contains(out, "--- PASS: TestE2E_Polkit") {
			t.Errorf("polkit test: %v", err)
		}
		b.sh("systemctl stop " + governor.UnitName("polkit1") + "; systemctl disable " + governor.UnitName("polkit1")) //nolint:errcheck // cleanup
	})

	t.Run("unitctl conformance", func(t *testing.T) {
		b.must(t, `printf '{"kind":"dingaling","endpoint":"tcp://127.0.0.1:47312"}\n' >/etc/schedulezero/handlers/watch1.json`)
		out, err := b.sh("SZ_E2E=1 SZ_E2E_HANDLER=watch1 /sbx/bin/unitctl.test -test.v -test.run 'TestManager_Conformance|TestManager_WatchSeesKill' 2>&1")
		t.Logf("pkg/unitctl on PID 1:\n%s", out)
		if err != nil {
			t.Errorf("unitctl: %v", err)
		}
		b.sh("systemctl stop " + governor.UnitName("watch1")) //nolint:errcheck // cleanup
	})
	// Every decision of the governor, with its journal fields, as an
	// operator reads them with journalctl -o verbose.
	var lines []string
	for _, e := range b.journal(t, 0) {
		if p, _ := strconv.Atoi(e.fields["PRIORITY"]); p <= 4 {
			lines = append(lines, fmt.Sprintf("%s %s SZ_HANDLER=%s SZ_REASON=%q SZ_RESTARTS=%s", e.at.Format("15:04:05.000"),
				e.message, e.fields["SZ_HANDLER"], e.fields["SZ_REASON"], e.fields["SZ_RESTARTS"]))
		}
	}
	t.Logf("the governor's warnings and errors:\n%s", strings.Join(lines, "\n"))
	if !story {
		t.Log("the story stopped at its first failed step")
	}
}
