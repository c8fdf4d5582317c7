package e2e

// The daemons as systemd services in a real systemd (systemd 252 as PID 1 of a systemd-nspawn
// container booted by sandbox.sh): the binaries and the generated units/
// are installed as a package would install them, the daemons run as real
// units under their hardening, and each behaviour is checked
// with systemctl, journalctl and systemd-analyze:
//
//  1. READY=1, STATUS=, reload, a graceful and fast stop;
//  2. the fault switch stalls the engine, the watchdog kills the scheduler
//     (Result=watchdog), systemd restarts it, schedules and history survive;
//  3. journalctl finds one execution across units by SZ_EXECUTION_ID, and a
//     handler's lines by SZ_HANDLER;
//  4. systemd-analyze verify passes and every security score is <= 2.0;
//  5. socket activation of the API; unauthenticated TCP gets 401.
//
// Plus: deployments (schedulezero-scheduler@NAME), the target restarting
// the suite, the governor managing handler units over D-Bus under its
// hardening, socket permissions, and the exec-kind drop-in pattern.
//
// Needs root and SZ_E2E=1 (`make e2e`); the first run debootstraps the
// container's rootfs (network, ~40 s), later boots take under a second.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	sdSandboxName = "sz-sd"
	sdPoll        = 200 * time.Millisecond
	sdCmdTimeout  = 2 * time.Minute // a go build, a sandbox boot
	sdWait        = 30 * time.Second
	sdMaxExposure = 2.0
	sdToken       = "e2e-token-0123456789abcdef"
	sdTokenFile   = "/etc/credstore/schedulezero-api-token"
	sdHandler     = "dingaling"
	sdHandlerUnit = "schedulezero-handler@" + sdHandler + ".service"
	sdScheduler   = "schedulezero-scheduler.service"
	sdGovernor    = "schedulezero-governor.service"
)

// sdEnv is the environment of sandbox.sh for this test: its own machine
// name and rootfs cache, with polkitd so that the governor's polkit rule
// is in force.
func sdEnv() []string { return sandboxEnv(sdSandboxName, "-sd", "polkitd") }

// sdInstall installs what the package installs, from /sbx.
const sdInstall = `set -e
install -m 0755 /sbx/bin/schedulezero /usr/bin/
install -m 0755 /sbx/bin/schedulezero-scheduler /sbx/bin/schedulezero-handler /sbx/bin/schedulezero-governor /usr/sbin/
install -m 0644 /sbx/units/*.service /sbx/units/*.socket /sbx/units/*.target /usr/lib/systemd/system/
install -m 0644 /sbx/units/schedulezero.sysusers /usr/lib/sysusers.d/schedulezero.conf
install -m 0644 /sbx/units/schedulezero.tmpfiles /usr/lib/tmpfiles.d/schedulezero.conf
install -D -m 0644 /sbx/schedulezero-governor.rules /usr/share/polkit-1/rules.d/schedulezero-governor.rules
systemd-sysusers schedulezero.conf
systemd-tmpfiles --create schedulezero.conf
systemctl daemon-reload
systemctl restart polkit
`

// sdBox is the systemd suite's sandbox: the CLI with the API token once
// there is one, and unit drop-ins.
type sdBox struct {
	*sandbox
	token bool // the scheduler has an API token: the CLI must send it
}

// newSDBox is the suite's sandbox of env: commands in bash (for /dev/tcp).
func newSDBox(ctx context.Context, root string, env []string) *sdBox {
	b := &sdBox{sandbox: newSandbox(ctx, root, env)}
	b.shell, b.poll, b.cmdTimeout = "bash", sdPoll, sdCmdTimeout
	return b
}

// cli runs the schedulezero CLI inside, with the API token once there is one.
func (b *sdBox) cli(args string) (string, error) {
	if b.token {
		args = "--api-token-file " + sdTokenFile + " " + args
	}
	return b.sh("schedulezero " + args)
}

func (b *sdBox) mustCLI(t *testing.T, args string) string {
	t.Helper()
	out, err := b.cli(args)
	if err != nil {
		t.Fatalf("schedulezero %s: %v", args, err)
	}
	return strings.TrimSpace(out)
}

func (b *sdBox) waitActive(t *testing.T, units ...string) {
	t.Helper()
	for _, u := range units {
		b.waitFor(t, u+" active (running)", sdWait, func() (bool, string) {
			a, s := b.prop(u, "ActiveState"), b.prop(u, "SubState")
			return a == "active" && s == "running", a + "/" + s
		})
	}
}

// dropIn writes a drop-in for unit and reloads systemd.
func (b *sdBox) dropIn(t *testing.T, unit, name, content string) {
	t.Helper()
	b.writeFile(t, "/etc/systemd/system/"+unit+".d/"+name+".conf", content)
	b.must(t, "systemctl daemon-reload")
}

func (b *sdBox) removeDropIn(t *testing.T, unit, name string) {
	t.Helper()
	b.must(t, "rm -f /etc/systemd/system/"+unit+".d/"+name+".conf && systemctl daemon-reload")
}

// timed runs a command line inside and returns how long it took, measured
// inside the container.
func (b *sdBox) timed(t *testing.T, line string) time.Duration {
	t.Helper()
	out := b.must(t, `s=$(date +%s%N); `+line+` >/dev/null; e=$(date +%s%N); echo $(( (e - s) / 1000000 ))`)
	ms, err := strconv.Atoi(sdLastLine(out))
	if err != nil {
		t.Fatalf("timing %q: %q", line, out)
	}
	return time.Duration(ms) * time.Millisecond
}

func sdLastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

type sdExecution struct {
	ExecutionID string `json:"execution_id"`
	Attempt     int    `json:"attempt_number"`
	ScheduleID  string `json:"job_id"`
	HandlerID   string `json:"handler_id"`
	Method      string `json:"method_name"`
	Status      string `json:"status"`
	Error       string `json:"error"`
}

// history returns the attempts the CLI lists, most recent first.
func (b *sdBox) history(args string) ([]sdExecution, error) {
	out, err := b.cli("--json history -n 1000 " + args)
	if err != nil {
		return nil, err
	}
	var list []sdExecution
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		return nil, fmt.Errorf("history --json: %w: %q", err, out)
	}
	return list, nil
}

// execStatus is the status of the newest attempt of execution id of
// schedule, with its error when it has one, or "not listed".
func (b *sdBox) execStatus(schedule, id string) string {
	list, _ := b.history("--schedule " + schedule)
	for _, e := range list {
		if e.ExecutionID == id {
			if e.Error != "" {
				return e.Status + ": " + e.Error
			}
			return e.Status
		}
	}
	return "not listed"
}

// succeeded waits until schedule id has more than n succeeded attempts and
// returns their execution ids.
func (b *sdBox) succeeded(t *testing.T, id string, n int) map[string]bool {
	t.Helper()
	var ok map[string]bool
	b.waitFor(t, fmt.Sprintf("more than %d succeeded runs of %s", n, id), sdWait, func() (bool, string) {
		list, err := b.history("--schedule " + id)
		if err != nil {
			return false, err.Error()
		}
		ok = map[string]bool{}
		for _, e := range list {
			if e.Status == "success" {
				ok[e.ExecutionID] = true
			}
		}
		return len(ok) > n, fmt.Sprintf("%d succeeded", len(ok))
	})
	return ok
}

// handlerOnline reports whether the scheduler behind api lists handler
// online.
func (b *sdBox) handlerOnline(api, handler string) (bool, string) {
	args := "--json handlers"
	if api != "" {
		args = "--api " + api + " " + args
	}
	out, err := b.cli(args)
	if err != nil {
		return false, err.Error()
	}
	var r struct {
		Handlers []struct{ ID, Status, Address string }
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		return false, out
	}
	for _, h := range r.Handlers {
		if h.ID == handler && h.Status == "online" {
			return true, h.Address
		}
	}
	return false, out
}

// journal returns the entries journalctl prints for args, as field maps.
func (b *sdBox) journal(t *testing.T, args string) []map[string]any {
	t.Helper()
	entries, err := parseJournal(b.must(t, "journalctl --no-pager -o json "+args))
	if err != nil {
		t.Fatal(err)
	}
	return entries
}

// find returns the first entry whose fields include all of want.
func sdFind(entries []map[string]any, want map[string]string) map[string]any {
next:
	for _, e := range entries {
		for k, v := range want {
			if journalField(e, k) != v {
				continue next
			}
		}
		return e
	}
	return nil
}

func sdSummary(entries []map[string]any) string {
	var lines []string
	for _, e := range entries {
		lines = append(lines, fmt.Sprintf("%s: %s", journalField(e, "_SYSTEMD_UNIT"), journalField(e, "MESSAGE")))
	}
	return strings.Join(lines, "\n")
}

// sdBuild builds the four binaries for the container (static, like the
// package's).
func sdBuild(t *testing.T, ctx context.Context, root string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "bin")
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", dir+string(os.PathSeparator),
		"./cmd/schedulezero", "./cmd/schedulezero-scheduler", "./cmd/schedulezero-handler", "./cmd/schedulezero-governor")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return dir
}

var sdExposureRE = regexp.MustCompile(`Overall exposure level for (\S+): ([0-9.]+)`)

func TestSystemd(t *testing.T) {
	skipUnlessE2E(t, true)
	ctx := t.Context()
	root := pkgRepoRoot(t)
	bin := sdBuild(t, ctx, root)

	b := newSDBox(ctx, root, sdEnv())
	start := time.Now()
	b.boot(t, nil)
	script := filepath.Join(t.TempDir(), "install.sh")
	if err := os.WriteFile(script, []byte(sdInstall), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := b.sbx("put", bin, filepath.Join(root, "units"), script,
		filepath.Join(root, "packaging", "polkit", "schedulezero-governor.rules")); err != nil {
		t.Fatal(err)
	}
	b.must(t, "bash /sbx/install.sh")
	// The dingaling handler; the endpoint is the one the handler would pick
	// by itself, written out so that the governor can ping it.
	b.writeFile(t, "/etc/schedulezero/handlers/"+sdHandler+".json",
		`{"kind": "dingaling", "endpoint": "ipc:///run/schedulezero/handler-`+sdHandler+`.sock"}`)

	var schedID string
	var before map[string]bool

	// Unit verification first: it needs nothing running.
	t.Run("verify", func(t *testing.T) {
		units := "schedulezero.target schedulezero-scheduler.service schedulezero-scheduler.socket " +
			"schedulezero-scheduler@.service schedulezero-handler@.service schedulezero-governor.service"
		// --man=no: the man pages come with the package, not with units/.
		out := b.must(t, "cd /usr/lib/systemd/system && systemd-analyze verify --man=no "+units+" 2>&1")
		if out != "" {
			t.Errorf("systemd-analyze verify printed:\n%s", out)
		}
	})

	t.Run("security", func(t *testing.T) {
		var table []string
		for _, u := range []string{sdScheduler, "schedulezero-scheduler@clock.service", sdHandlerUnit, sdGovernor} {
			out := b.must(t, "systemd-analyze security --no-pager "+u+" 2>&1")
			m := sdExposureRE.FindStringSubmatch(out)
			if m == nil {
				t.Errorf("%s: no score in:\n%s", u, out)
				continue
			}
			score, _ := strconv.ParseFloat(m[2], 64)
			table = append(table, fmt.Sprintf("  %-40s %.1f", u, score))
			if score > sdMaxExposure {
				t.Errorf("%s: exposure %.1f > %.1f:\n%s", u, score, sdMaxExposure, out)
			}
		}
		t.Logf("systemd-analyze security (exposure, lower is better; limit %.1f):\n%s", sdMaxExposure, strings.Join(table, "\n"))
	})

	ok := t.Run("ready and status", func(t *testing.T) {
		b.must(t, "systemctl start "+sdScheduler)
		b.waitActive(t, sdScheduler)
		for prop, want := range map[string]string{"Type": "notify", "NotifyAccess": "main", "WatchdogUSec": "10s", "User": "schedulezero"} {
			if got := b.prop(sdScheduler, prop); got != want {
				t.Errorf("%s: %s=%q, want %q", sdScheduler, prop, got, want)
			}
		}
		// systemctl start returns once READY=1 came; the handler sends it
		// only after the scheduler accepted its registration, so the
		// scheduler must list it online at once, without waiting.
		b.must(t, "systemctl start "+sdHandlerUnit)
		if a := b.prop(sdHandlerUnit, "ActiveState"); a != "active" {
			t.Fatalf("%s after start: %s", sdHandlerUnit, a)
		}
		if online, state := b.handlerOnline("", sdHandler); !online {
			t.Errorf("right after `systemctl start %s` the scheduler does not list it online: %s", sdHandlerUnit, state)
		}
		schedID = "e2e-quick"
		b.mustCLI(t, "schedule add --id "+schedID+" --handler "+sdHandler+" --method quick_aling --every 1s")
		before = b.succeeded(t, schedID, 2)
		b.waitFor(t, "the scheduler's STATUS line", sdWait, func() (bool, string) {
			out, _ := b.sh("systemctl status --no-pager " + sdScheduler)
			return regexp.MustCompile(`Status: "1 schedules, 1 handlers online, \d+ running, next fire `).MatchString(out), out
		})
		b.waitFor(t, "the handler's STATUS line", sdWait, func() (bool, string) {
			out, _ := b.sh("systemctl status --no-pager " + sdHandlerUnit)
			return regexp.MustCompile(`Status: "registered with ipc:///run/schedulezero/zmq.sock; [1-9]\d* jobs done, 0 failed, \d+ running"`).MatchString(out), out
		})
		out, _ := b.sh("systemctl status --no-pager " + sdScheduler + " " + sdHandlerUnit + " | grep Status:")
		t.Logf("systemctl status:\n%s", out)
	})

	ok = ok && t.Run("journal fields", func(t *testing.T) {
		var id string
		for e := range before {
			id = e
			break
		}
		all := b.journal(t, "SZ_EXECUTION_ID="+id)
		sched := sdFind(all, map[string]string{"_SYSTEMD_UNIT": sdScheduler, "MESSAGE": "attempt succeeded",
			"SZ_SCHEDULE_ID": schedID, "SZ_HANDLER": sdHandler, "SZ_METHOD": "quick_aling", "SZ_ATTEMPT": "1", "PRIORITY": "6"})
		handler := sdFind(all, map[string]string{"_SYSTEMD_UNIT": sdHandlerUnit, "MESSAGE": "job finished",
			"SZ_SCHEDULE_ID": schedID, "SZ_HANDLER": sdHandler, "SZ_METHOD": "quick_aling", "SZ_ATTEMPT": "1", "SZ_OK": "true", "PRIORITY": "6"})
		if sched == nil || handler == nil {
			t.Errorf("journalctl SZ_EXECUTION_ID=%s: scheduler line found %v, handler line found %v, in:\n%s", id, sched != nil, handler != nil, sdSummary(all))
		}
		// -u narrows to one unit and still finds the execution.
		for _, e := range b.journal(t, "-u "+sdScheduler+" SZ_EXECUTION_ID="+id) {
			if journalField(e, "_SYSTEMD_UNIT") != sdScheduler || journalField(e, "SZ_EXECUTION_ID") != id {
				t.Errorf("journalctl -u %s SZ_EXECUTION_ID=%s returned %s: %s", sdScheduler, id, journalField(e, "_SYSTEMD_UNIT"), journalField(e, "MESSAGE"))
			}
		}
		byHandler := b.journal(t, "SZ_HANDLER="+sdHandler+" MESSAGE='job finished'")
		if len(byHandler) < len(before) {
			t.Errorf("journalctl SZ_HANDLER=%s: %d job lines, want at least %d", sdHandler, len(byHandler), len(before))
		}
		for _, e := range byHandler {
			if journalField(e, "_SYSTEMD_UNIT") != sdHandlerUnit || journalField(e, "CODE_FUNC") == "" || journalField(e, "SYSLOG_IDENTIFIER") != "schedulezero-handler" {
				t.Errorf("a job line with unexpected fields: %v", e)
				break
			}
		}
	})

	ok = ok && t.Run("reload", func(t *testing.T) {
		pid := b.prop(sdScheduler, "MainPID")
		b.must(t, "systemctl reload "+sdScheduler)
		b.waitFor(t, "reload logged", sdWait, func() (bool, string) {
			es := b.journal(t, "-u "+sdScheduler+" MESSAGE='reload requested'")
			return len(es) > 0, fmt.Sprint(len(es))
		})
		if p, a := b.prop(sdScheduler, "MainPID"), b.prop(sdScheduler, "ActiveState"); p != pid || a != "active" {
			t.Errorf("after reload MainPID=%s (was %s) ActiveState=%s", p, pid, a)
		}
	})

	ok = ok && t.Run("graceful fast stop", func(t *testing.T) {
		// The scheduler first, while its handler still answers: it stops
		// firing, lets running attempts finish and closes the store.
		for _, u := range []string{sdScheduler, sdHandlerUnit} {
			inv := b.prop(u, "InvocationID")
			d := b.timed(t, "systemctl stop "+u)
			// The unit may be unloaded once inactive, so its exit status is
			// read from what systemd logged for this invocation: a clean
			// exit is "Deactivated successfully", a kill after
			// TimeoutStopSec says "Killing" and ends in "Failed".
			es := b.journal(t, "-u "+u+" _PID=1 INVOCATION_ID="+inv)
			clean := sdFind(es, map[string]string{"MESSAGE": u + ": Deactivated successfully."}) != nil
			t.Logf("systemctl stop %s: %.2fs (clean exit: %v)", u, d.Seconds(), clean)
			if !clean {
				t.Errorf("%s did not exit cleanly on SIGTERM:\n%s", u, sdSummary(es))
			}
			if d > 5*time.Second {
				t.Errorf("%s took %v to stop, want under 5s", u, d)
			}
		}
		stopping := b.journal(t, "-u "+sdHandlerUnit+" MESSAGE='handler stopped'")
		if len(stopping) == 0 {
			t.Error("the handler did not log its orderly stop")
		}
	})

	ok = ok && t.Run("graceful stop with a running job", func(t *testing.T) {
		// A job that takes 3s, on an exec handler. A stop in the middle of
		// it waits for it (within SZ_STOP_TIMEOUT / the handler's drain
		// budget) and records its success instead of cutting it off.
		b.writeFile(t, "/etc/schedulezero/handlers/slow.json", `{"kind": "exec", "endpoint": "ipc:///run/schedulezero/handler-slow.sock",
  "methods": {"nap": {"command": ["/bin/sleep", "3"], "timeout": "30s"}}}`)
		// dingaling runs too, so that no attempt of e2e-quick waits for an
		// absent handler (the next step is about that).
		b.must(t, "systemctl start "+sdScheduler+" "+sdHandlerUnit+" schedulezero-handler@slow")
		defer b.sh("systemctl stop schedulezero-handler@slow")
		b.waitActive(t, sdScheduler, sdHandlerUnit, "schedulezero-handler@slow.service")
		b.mustCLI(t, "schedule add --replace --id e2e-nap --handler slow --method nap --every 1h --max-attempts 1")
		for _, u := range []string{sdScheduler, "schedulezero-handler@slow.service"} {
			out := b.mustCLI(t, "--json schedule run --force e2e-nap")
			var tr struct {
				ExecutionID string `json:"execution_id"`
			}
			if err := json.Unmarshal([]byte(out), &tr); err != nil || tr.ExecutionID == "" {
				t.Fatalf("schedule run: %q %v", out, err)
			}
			status := func() string { return b.execStatus("e2e-nap", tr.ExecutionID) }
			b.waitFor(t, "execution "+tr.ExecutionID+" running", sdWait, func() (bool, string) {
				s := status()
				return s == "running", s
			})
			d := b.timed(t, "systemctl stop "+u)
			t.Logf("systemctl stop %s with a job running: %.2fs", u, d.Seconds())
			if d > 10*time.Second {
				t.Errorf("stop took %v", d)
			}
			b.must(t, "systemctl start "+sdScheduler+" "+sdHandlerUnit+" schedulezero-handler@slow")
			b.waitFor(t, "execution "+tr.ExecutionID+" recorded", sdWait, func() (bool, string) {
				s := status()
				return s != "running" && s != "pending", s
			})
			if s := status(); s != "success" {
				j, _ := b.sh("journalctl -o short-precise -u schedulezero-handler@slow -u " + sdScheduler + " --since -30s | tail -30")
				t.Errorf("the job running during the stop of %s ended %q, want success; journal:\n%s", u, s, j)
			}
		}
	})

	// systemctl restart of a handler while a 3 s job runs on it and a
	// schedule fires on it every second (overlap allow: every fire is an
	// execution): the handler says "stopping" before it drains, so the
	// fires of the drain wait for the new process instead of being
	// refused; the running job and every fire end in success.
	ok = ok && t.Run("handler restart fails no job", func(t *testing.T) {
		b.writeFile(t, "/etc/schedulezero/handlers/slow.json", `{"kind": "exec", "endpoint": "ipc:///run/schedulezero/handler-slow.sock",
  "concurrency": 4, "methods": {"nap": {"command": ["/bin/sleep", "3"], "timeout": "30s"}, "blink": {"command": ["/bin/true"]}}}`)
		b.must(t, "systemctl start "+sdScheduler+" schedulezero-handler@slow")
		defer b.sh("systemctl stop schedulezero-handler@slow")
		b.waitActive(t, sdScheduler, "schedulezero-handler@slow.service")
		b.mustCLI(t, "schedule add --replace --id e2e-nap --handler slow --method nap --every 1h --max-attempts 1")
		b.mustCLI(t, "schedule add --replace --id e2e-blink --handler slow --method blink --every 1s --overlap allow --max-attempts 1")
		defer b.cli("schedule rm e2e-blink")
		b.succeeded(t, "e2e-blink", 0)
		out := b.mustCLI(t, "--json schedule run --force e2e-nap")
		var tr struct {
			ExecutionID string `json:"execution_id"`
		}
		if err := json.Unmarshal([]byte(out), &tr); err != nil || tr.ExecutionID == "" {
			t.Fatalf("schedule run: %q %v", out, err)
		}
		b.waitFor(t, "execution "+tr.ExecutionID+" running", sdWait, func() (bool, string) {
			s := b.execStatus("e2e-nap", tr.ExecutionID)
			return s == "running", s
		})
		list, _ := b.history("--schedule e2e-blink")
		fired := len(list)
		d := b.timed(t, "systemctl restart schedulezero-handler@slow")
		b.waitFor(t, "the nap recorded", sdWait, func() (bool, string) {
			s := b.execStatus("e2e-nap", tr.ExecutionID)
			return s != "running" && s != "pending", s
		})
		if s := b.execStatus("e2e-nap", tr.ExecutionID); s != "success" {
			t.Errorf("the job running at the restart ended %q, want success", s)
		}
		// Every fire of the restart and two seconds after it has ended.
		b.waitFor(t, "the fires of the restart to end", sdWait, func() (bool, string) {
			list, _ = b.history("--schedule e2e-blink")
			open := 0
			for _, e := range list {
				if e.Status == "running" || e.Status == "pending" {
					open++
				}
			}
			return open == 0 && len(list) >= fired+int(d/time.Second)+2, fmt.Sprintf("%d attempts, %d not ended", len(list), open)
		})
		for _, e := range list {
			if e.Status != "success" {
				j, _ := b.sh("journalctl -o short-precise -u schedulezero-handler@slow -u " + sdScheduler + " --since -30s | tail -30")
				t.Fatalf("a fire of e2e-blink around the restart ended %s (%s), want success; journal:\n%s", e.Status, e.Error, j)
			}
		}
		t.Logf("systemctl restart of a handler with a 3 s job running: %.2fs; %d fires of a 1 s schedule meanwhile and after, all success",
			d.Seconds(), len(list)-fired)
	})

	// The order of `systemctl stop schedulezero.target`: handlers first
	// (they are After= the scheduler), then the scheduler, while e2e-quick
	// fires every second. Nothing runs, so the stop must be as fast as the
	// idle one.
	t.Run("stop after the handler", func(t *testing.T) {
		b.must(t, "systemctl start "+sdScheduler+" "+sdHandlerUnit)
		b.waitActive(t, sdScheduler, sdHandlerUnit)
		b.must(t, "systemctl stop "+sdHandlerUnit)
		b.succeeded(t, schedID, 0) // the scheduler keeps firing meanwhile
		b.waitFor(t, "a fire waiting for the absent handler", sdWait, func() (bool, string) {
			list, _ := b.history("--schedule " + schedID)
			for _, e := range list {
				if e.Status == "pending" {
					return true, ""
				}
			}
			return false, fmt.Sprint(len(list), " attempts, none pending")
		})
		d := b.timed(t, "systemctl stop "+sdScheduler)
		t.Logf("systemctl stop %s after its handler: %.2fs", sdScheduler, d.Seconds())
		if d > 5*time.Second {
			t.Errorf("stop took %v: attempts that wait for an absent handler hold the stop until SZ_STOP_TIMEOUT, "+
				"although nothing was sent (they could stay pending and be dispatched after the restart)", d.Round(10*time.Millisecond))
		}
	})

	ok = ok && t.Run("watchdog restarts a stalled scheduler", func(t *testing.T) {
		b.dropIn(t, sdScheduler, "fault", "[Service]\nEnvironment=SZ_FAULT_INJECTION=1")
		defer b.removeDropIn(t, sdScheduler, "fault")
		b.must(t, "systemctl start "+sdScheduler+" "+sdHandlerUnit)
		b.waitActive(t, sdScheduler, sdHandlerUnit)
		before = b.succeeded(t, schedID, len(before)+1)
		restarts, _ := strconv.Atoi(b.prop(sdScheduler, "NRestarts"))
		// Flip the switch and time, inside the container, how long until
		// systemd has killed the stuck scheduler and until it is back.
		out := b.must(t, `u=`+sdScheduler+`; pid=$(systemctl show -p MainPID --value $u); s=$(date +%s%N)
systemctl kill -s USR2 --kill-who=main $u
killed=""; res=""
while :; do
	r=$(systemctl show -p Result --value $u); [ "$r" != success ] && res=$r
	p=$(systemctl show -p MainPID --value $u)
	if [ -z "$killed" ] && [ "$p" != "$pid" ]; then killed=$(date +%s%N); fi
	if [ -n "$killed" ] && [ "$(systemctl show -p SubState --value $u)" = running ] && [ "$p" != 0 ]; then break; fi
	[ $(( ($(date +%s%N) - s) / 1000000000 )) -gt 40 ] && break
	sleep 0.05
done
e=$(date +%s%N); echo "$(( (killed - s) / 1000000 )) $(( (e - s) / 1000000 )) $res"`)
		f := strings.Fields(sdLastLine(out))
		if len(f) != 3 {
			t.Fatalf("no watchdog restart within 40s: %q", out)
		}
		killMS, backMS := sdAtoi(f[0]), sdAtoi(f[1])
		t.Logf("fault switch -> killed by the watchdog: %.1fs, -> active again: %.1fs (WatchdogSec=10s, RestartSec=2s); Result seen: %s",
			float64(killMS)/1000, float64(backMS)/1000, f[2])
		if f[2] != "watchdog" {
			t.Errorf("Result while restarting = %q, want watchdog", f[2])
		}
		if killMS > 15000 {
			t.Errorf("killed %dms after the stall, want within WatchdogSec (10s) plus margin", killMS)
		}
		if n, _ := strconv.Atoi(b.prop(sdScheduler, "NRestarts")); n != restarts+1 {
			t.Errorf("NRestarts = %d, want %d", n, restarts+1)
		}
		es := b.journal(t, "-u "+sdScheduler+" _PID=1")
		if sdFind(es, map[string]string{"MESSAGE": "schedulezero-scheduler.service: Watchdog timeout (limit 10s)!"}) == nil {
			t.Errorf("no watchdog timeout from systemd in:\n%s", sdSummary(es))
		}
		// Its own account: the warning and the failed health check, with
		// their priorities.
		own := b.journal(t, "-u "+sdScheduler)
		if sdFind(own, map[string]string{"MESSAGE": "fault injection: stalling the engine loop", "PRIORITY": "4"}) == nil ||
			sdFind(own, map[string]string{"MESSAGE": "health check failed, watchdog pings stop", "PRIORITY": "3"}) == nil {
			t.Errorf("the stall and the failed health check are not in the journal with PRIORITY 4 and 3")
		}
		// Schedules and history survive; the schedule keeps firing.
		if out := b.mustCLI(t, "--json schedule list"); !strings.Contains(out, `"`+schedID+`"`) {
			t.Errorf("schedule %s lost after the watchdog restart:\n%s", schedID, out)
		}
		after := b.succeeded(t, schedID, len(before)+1)
		for id := range before {
			if !after[id] {
				t.Errorf("execution %s from before the watchdog restart is gone from history", id)
			}
		}
	})

	t.Run("socket activation", func(t *testing.T) {
		b.must(t, "systemctl stop "+sdScheduler+" && systemctl start schedulezero-scheduler.socket")
		defer b.sh("systemctl stop schedulezero-scheduler.socket")
		if a := b.prop(sdScheduler, "ActiveState"); a != "inactive" {
			t.Fatalf("scheduler %s before the first connection, want inactive", a)
		}
		if got := b.must(t, "stat -c '%U:%G %a' /run/schedulezero/api.sock"); got != "schedulezero:schedulezero 660" {
			t.Errorf("api.sock from the socket unit: %s, want schedulezero:schedulezero 660", got)
		}
		// The first request starts the scheduler, which serves it on the
		// socket systemd passed.
		if out := b.mustCLI(t, "--json schedule list"); !strings.Contains(out, schedID) {
			t.Errorf("the socket-activated API answered without %s:\n%s", schedID, out)
		}
		if a := b.prop(sdScheduler, "ActiveState"); a != "active" {
			t.Errorf("scheduler %s after the first connection, want active", a)
		}
		if tb := b.prop(sdScheduler, "TriggeredBy"); !strings.Contains(tb, "schedulezero-scheduler.socket") {
			t.Errorf("TriggeredBy=%q", tb)
		}
	})

	t.Run("deployments", func(t *testing.T) {
		b.writeFile(t, "/etc/schedulezero/handlers/tick.json",
			`{"kind": "dingaling", "scheduler": "ipc:///run/schedulezero/clock/zmq.sock", "endpoint": "ipc:///run/schedulezero/handler-tick.sock"}`)
		b.must(t, "systemctl start "+sdScheduler+" schedulezero-scheduler@clock schedulezero-handler@tick")
		b.waitActive(t, "schedulezero-scheduler@clock.service", "schedulezero-handler@tick.service")
		if online, state := b.handlerOnline("unix:/run/schedulezero/clock/api.sock", "tick"); !online {
			t.Errorf("tick is not online at the clock deployment: %s", state)
		}
		if online, _ := b.handlerOnline("", "tick"); online {
			t.Error("tick registered with the default deployment too")
		}
		if got := b.must(t, "ls /var/lib/schedulezero/clock"); got != "schedulezero.db" {
			t.Errorf("the clock deployment's state: %q, want its own schedulezero.db", got)
		}
	})

	t.Run("target and governor", func(t *testing.T) {
		// The governor pings handlers often here, so that a hung one is
		// restarted within seconds.
		b.dropIn(t, sdGovernor, "fast", "[Service]\nEnvironment=SZ_GOVERNOR_CHECK_INTERVAL=1s")
		defer b.removeDropIn(t, sdGovernor, "fast")
		b.must(t, "systemctl start schedulezero.target "+sdHandlerUnit)
		units := []string{sdScheduler, sdGovernor, sdHandlerUnit, "schedulezero-scheduler@clock.service", "schedulezero-handler@tick.service"}
		b.waitActive(t, units...)
		pids := map[string]string{}
		for _, u := range units {
			pids[u] = b.prop(u, "MainPID")
		}
		d := b.timed(t, "systemctl restart schedulezero.target")
		t.Logf("systemctl restart schedulezero.target: %.2fs", d.Seconds())
		for _, u := range units {
			b.waitFor(t, u+" restarted with the target", sdWait, func() (bool, string) {
				p, s := b.prop(u, "MainPID"), b.prop(u, "SubState")
				return p != pids[u] && p != "0" && s == "running", "MainPID=" + p + " SubState=" + s
			})
		}
		// The governor (unprivileged, hardened) restarts a hung handler
		// over D-Bus, as polkit allows it.
		b.waitFor(t, "the governor sees dingaling healthy", sdWait, func() (bool, string) {
			s := b.prop(sdGovernor, "StatusText")
			return regexp.MustCompile(`\d+ handlers, [1-9]\d* healthy`).MatchString(s), s
		})
		pid := b.prop(sdHandlerUnit, "MainPID")
		b.must(t, "systemctl kill -s STOP --kill-who=main "+sdHandlerUnit)
		b.waitFor(t, "the governor restarts the hung handler", sdWait, func() (bool, string) {
			p, s := b.prop(sdHandlerUnit, "MainPID"), b.prop(sdHandlerUnit, "SubState")
			return p != pid && p != "0" && s == "running", "MainPID=" + p + " SubState=" + s
		})
		if es := b.journal(t, "-u "+sdGovernor+" MESSAGE='handler restarted' SZ_HANDLER="+sdHandler); len(es) == 0 {
			t.Error("the governor did not log the restart with SZ_HANDLER")
		}
		b.must(t, "systemctl stop "+sdGovernor)
	})

	t.Run("socket permissions", func(t *testing.T) {
		if got := b.must(t, "stat -c '%U:%G %a' /run/schedulezero"); got != "schedulezero:schedulezero 750" {
			t.Errorf("/run/schedulezero: %s, want schedulezero:schedulezero 750", got)
		}
		// A member of the schedulezero group reaches the API; anybody else
		// is refused by the file system. Both run as real transient units.
		as := func(group string) (string, error) {
			props := "-p User=nobody"
			if group != "" {
				props += " -p SupplementaryGroups=" + group
			}
			return b.sh("systemd-run --quiet --wait --pipe --collect " + props + " /usr/bin/schedulezero --api unix:/run/schedulezero/api.sock handlers 2>&1")
		}
		if out, err := as("schedulezero"); err != nil {
			t.Errorf("a member of the schedulezero group cannot use the API: %v", err)
		} else if !strings.Contains(out, sdHandler) {
			t.Errorf("handlers as a group member:\n%s", out)
		}
		if out, err := as(""); err == nil || !strings.Contains(out, "permission denied") {
			t.Errorf("an outsider reached the API socket: err=%v\n%s", err, out)
		}
	})

	t.Run("exec drop-in", func(t *testing.T) {
		b.writeFile(t, "/etc/schedulezero/handlers/scripts.json", `{"kind": "exec", "endpoint": "ipc:///run/schedulezero/handler-scripts.sock",
  "methods": {"write": {"command": ["/bin/sh", "-c", "echo done > /srv/out/result"], "timeout": "10s"}}}`)
		b.must(t, "mkdir -p /srv/out && chown schedulezero:schedulezero /srv/out && rm -f /srv/out/result")
		b.must(t, "systemctl start schedulezero-handler@scripts")
		b.waitActive(t, "schedulezero-handler@scripts.service")
		b.mustCLI(t, "schedule add --replace --id e2e-write --handler scripts --method write --every 1h --max-attempts 1")
		finished := func(id string) (sdExecution, bool) {
			list, _ := b.history("--schedule e2e-write")
			for _, e := range list {
				if e.ExecutionID == id && (e.Status == "success" || e.Status == "error") {
					return e, true
				}
			}
			return sdExecution{}, false
		}
		runOnce := func(t *testing.T) sdExecution {
			t.Helper()
			out := b.mustCLI(t, "--json schedule run --force e2e-write")
			var tr struct {
				ExecutionID string `json:"execution_id"`
			}
			if err := json.Unmarshal([]byte(out), &tr); err != nil || tr.ExecutionID == "" {
				t.Fatalf("schedule run: %q %v", out, err)
			}
			var e sdExecution
			b.waitFor(t, "execution "+tr.ExecutionID+" finished", sdWait, func() (bool, string) {
				var ok bool
				e, ok = finished(tr.ExecutionID)
				list, _ := b.history("--schedule e2e-write")
				return ok, fmt.Sprintf("%+v", list)
			})
			return e
		}
		// The default hardening: the file system is read-only outside the
		// unit's own directories.
		if e := runOnce(t); e.Status != "error" || !strings.Contains(e.Error, "Read-only file system") {
			t.Errorf("without the drop-in: %+v, want an error naming the read-only file system", e)
		}
		// The documented drop-in opens exactly what the commands need.
		b.dropIn(t, "schedulezero-handler@scripts.service", "exec", "[Service]\nReadWritePaths=/srv/out")
		b.must(t, "systemctl restart schedulezero-handler@scripts")
		b.waitActive(t, "schedulezero-handler@scripts.service")
		if e := runOnce(t); e.Status != "success" {
			t.Errorf("with the drop-in: %+v, want success", e)
		}
		if got := b.must(t, "cat /srv/out/result"); got != "done" {
			t.Errorf("/srv/out/result = %q", got)
		}
		score := sdExposureRE.FindStringSubmatch(b.must(t, "systemd-analyze security --no-pager schedulezero-handler@scripts.service 2>&1"))
		if score != nil {
			t.Logf("schedulezero-handler@scripts.service with the drop-in: exposure %s", score[2])
		}
	})

	t.Run("tcp needs a token", func(t *testing.T) {
		b.writeFile(t, sdTokenFile, sdToken)
		b.must(t, "chmod 0600 "+sdTokenFile)
		b.dropIn(t, sdScheduler, "tcp", "[Service]\nEnvironment=SZ_HTTP_LISTEN=unix:/run/schedulezero/api.sock,127.0.0.1:8888")
		b.must(t, "systemctl restart "+sdScheduler)
		b.waitActive(t, sdScheduler)
		b.token = true
		request := func(auth string) string {
			hdr := ""
			if auth != "" {
				hdr = `Authorization: Bearer ` + auth + `\r\n`
			}
			out, err := b.sh(`exec 3<>/dev/tcp/127.0.0.1/8888 && printf 'GET /api/v1/schedules HTTP/1.0\r\nHost: localhost\r\n` + hdr + `\r\n' >&3 && head -1 <&3`)
			if err != nil {
				return err.Error()
			}
			return strings.TrimSpace(out)
		}
		for _, tc := range []struct{ name, token, want string }{
			{"no token", "", "HTTP/1.0 401 Unauthorized"},
			{"wrong token", "not-the-token", "HTTP/1.0 401 Unauthorized"},
			{"the token", sdToken, "HTTP/1.0 200 OK"},
		} {
			if got := request(tc.token); got != tc.want {
				t.Errorf("TCP request with %s: %q, want %q", tc.name, got, tc.want)
			}
		}
		// The unix socket needs the token too once one is configured.
		if out, err := b.sh("schedulezero schedule list 2>&1"); err == nil || !strings.Contains(out, "401") {
			t.Errorf("the CLI without a token was not refused: %v\n%s", err, out)
		}
		b.mustCLI(t, "schedule list")
	})

	t.Run("bad handler secret", func(t *testing.T) {
		const secret, wrong = "e2e-secret-0123456789abcdef", "e2e-wrong-0123456789abcdef"
		mine := "/etc/credstore/schedulezero-handler-" + sdHandler
		theirs := "/etc/schedulezero/handler-secrets/" + sdHandler
		defer b.sh("systemctl stop " + sdHandlerUnit + "; rm -f " + mine + " " + theirs + "; systemctl reset-failed " + sdHandlerUnit)
		// The scheduler's copy (its credential directory) and the handler's
		// (its credential): the handler registers.
		b.writeFile(t, theirs, secret)
		b.writeFile(t, mine, secret)
		b.must(t, "chmod 0600 "+theirs+" "+mine+" && systemctl restart "+sdScheduler+" && systemctl restart "+sdHandlerUnit)
		if online, state := b.handlerOnline("", sdHandler); !online {
			t.Fatalf("with the right secret %s is not online: %s", sdHandler, state)
		}
		// A wrong secret: the scheduler refuses the registration, the
		// handler exits with the reason, so its start fails at once
		// instead of hanging until TimeoutStartSec.
		b.writeFile(t, mine, wrong)
		b.must(t, "systemctl stop "+sdHandlerUnit)
		d := b.timed(t, "systemctl start "+sdHandlerUnit+" || true")
		if a := b.prop(sdHandlerUnit, "ActiveState"); a == "active" {
			t.Fatalf("%s is active with a wrong secret", sdHandlerUnit)
		}
		t.Logf("systemctl start with a wrong secret failed after %.2fs", d.Seconds())
		if online, _ := b.handlerOnline("", sdHandler); online {
			t.Errorf("%s is online with a wrong secret", sdHandler)
		}
		if es := b.journal(t, "-u "+sdScheduler+" MESSAGE='handler refused' SZ_HANDLER="+sdHandler); len(es) == 0 {
			t.Error("the scheduler did not log the refusal with SZ_HANDLER")
		}
		out := b.must(t, "journalctl --no-pager -o cat -u "+sdHandlerUnit+" | grep -c 'registration refused' || true")
		if out == "0" {
			t.Error("the handler's journal does not say its registration was refused")
		}
		if got := b.must(t, "journalctl --no-pager -u 'schedulezero*' | grep -c -e "+secret+" -e "+wrong+" || true"); got != "0" {
			t.Errorf("a secret appears %s times in the journal", got)
		}
	})

	if !ok {
		t.Log("the core sequence stopped at its first failure; the independent steps ran anyway")
	}
	t.Logf("whole run %v", time.Since(start).Round(time.Second))
	if t.Failed() {
		out, _ := b.sh("journalctl --no-pager -o short-precise -u 'schedulezero*' | tail -200")
		t.Logf("journal of the schedulezero units (last 200 lines):\n%s", out)
	}
}

func sdAtoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}
