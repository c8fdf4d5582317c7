package e2e

// Schedules as files in a real systemd. A package's file in
// /usr/lib, an administrator's override in /etc and a drop-in merge as
// systemd merges units; `systemctl reload` applies them and the schedule
// fires with the merged definition; a broken file leaves the scheduler
// active and the last good definition firing, and `systemctl status`
// says which file, line and key.

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const (
	filesSandboxName = "sz-files"
	filesLib         = "/usr/lib/schedulezero/schedules.d"
	filesEtc         = "/etc/schedulezero/schedules.d"
	filesID          = "e2e-files"
)

// filesInstall installs the binaries and units as the package does.
const filesInstall = `set -e
install -m 0755 /sbx/bin/schedulezero /usr/bin/
install -m 0755 /sbx/bin/schedulezero-scheduler /sbx/bin/schedulezero-handler /usr/sbin/
install -m 0644 /sbx/units/*.service /sbx/units/*.socket /sbx/units/*.target /usr/lib/systemd/system/
install -m 0644 /sbx/units/schedulezero.sysusers /usr/lib/sysusers.d/schedulezero.conf
install -m 0644 /sbx/units/schedulezero.tmpfiles /usr/lib/tmpfiles.d/schedulezero.conf
systemd-sysusers schedulezero.conf
systemd-tmpfiles --create schedulezero.conf
systemctl daemon-reload
`

func TestScheduleFiles(t *testing.T) {
	skipUnlessE2E(t, true)
	ctx := t.Context()
	root := pkgRepoRoot(t)
	bin := sdBuild(t, ctx, root)
	b := newSDBox(ctx, root, sandboxEnv(filesSandboxName, "", ""))
	b.boot(t, nil)
	script := filepath.Join(t.TempDir(), "install.sh")
	if err := os.WriteFile(script, []byte(filesInstall), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := b.sbx("put", bin, filepath.Join(root, "units"), script); err != nil {
		t.Fatal(err)
	}
	b.must(t, "bash /sbx/install.sh")
	b.writeFile(t, "/etc/schedulezero/handlers/"+sdHandler+".json",
		`{"kind": "dingaling", "endpoint": "ipc:///run/schedulezero/handler-`+sdHandler+`.sock"}`)

	type view struct {
		Method      string `json:"job_method"`
		MaxAttempts int    `json:"max_attempts"`
		Source      string `json:"source"`
		Trigger     json.RawMessage
	}
	show := func() (view, string) {
		out, err := b.cli("--json schedule show " + filesID)
		var v view
		if err != nil || json.Unmarshal([]byte(out), &v) != nil {
			return v, out
		}
		return v, out
	}
	// runs counts the succeeded runs of the schedule by method.
	runs := func() map[string]int {
		list, _ := b.history("--schedule " + filesID)
		n := map[string]int{}
		for _, e := range list {
			if e.Status == "success" {
				n[e.Method]++
			}
		}
		return n
	}
	status := func() string {
		out, _ := b.sh("systemctl status --no-pager " + sdScheduler + " | grep Status:")
		return strings.TrimSpace(out)
	}

	// The package's file, there before the scheduler starts; the handler
	// it names registers after, as at boot.
	b.writeFile(t, filesLib+"/"+filesID+".schedule", "# shipped by a package\n[Schedule]\nDescription=e2e\nHandler="+sdHandler+
		"\nMethod=ping\nOnCalendar=yearly\nPersistent=true\n")
	b.must(t, "systemctl start "+sdScheduler)
	b.waitActive(t, sdScheduler)
	b.must(t, "systemctl start "+sdHandlerUnit)
	b.waitFor(t, "the package's schedule created", sdWait, func() (bool, string) {
		v, out := show()
		return v.Method == "ping" && v.Source == "file:"+filesLib+"/"+filesID+".schedule", out
	})

	// The override in /etc and its drop-in, applied by systemctl reload.
	b.writeFile(t, filesEtc+"/"+filesID+".schedule", "[Schedule]\nHandler="+sdHandler+"\nMethod=quick_aling\nOnCalendar=yearly\nRetries=1\n")
	b.writeFile(t, filesEtc+"/"+filesID+".schedule.d/10-often.conf", "[Schedule]\n# reset the trigger, then set it\nOnCalendar=\nOnUnitActiveSec=1s\n")
	reloaded := time.Now()
	b.must(t, "systemctl reload "+sdScheduler)
	b.waitFor(t, "the merged definition applied", sdWait, func() (bool, string) {
		v, out := show()
		return v.Method == "quick_aling" && v.MaxAttempts == 2 && v.Source == "file:"+filesEtc+"/"+filesID+".schedule" &&
			strings.Contains(string(v.Trigger), `"interval"`), out
	})
	b.waitFor(t, "runs of the merged definition", sdWait, func() (bool, string) {
		n := runs()
		return n["quick_aling"] >= 3, fmt.Sprint(n)
	})
	b.waitFor(t, "STATUS= of the reload", sdWait, func() (bool, string) {
		s := status()
		return strings.Contains(s, "1 schedules from files: 0 created, 1 changed, 0 deleted"), s
	})
	t.Logf("reload applied in %v: %s", time.Since(reloaded).Round(time.Millisecond), status())

	// A broken drop-in: the scheduler stays active, the schedule keeps
	// firing as before, and systemctl status says why.
	pid := b.prop(sdScheduler, "MainPID")
	b.writeFile(t, filesEtc+"/"+filesID+".schedule.d/20-bad.conf", "[Schedule]\nOverlap=sometimes\n")
	b.must(t, "systemctl reload "+sdScheduler)
	b.waitFor(t, "systemctl status naming the bad file", sdWait, func() (bool, string) {
		s := status()
		return strings.Contains(s, `1 invalid: 20-bad.conf:2: Overlap=: "sometimes" is not a policy`), s
	})
	if a, p := b.prop(sdScheduler, "ActiveState"), b.prop(sdScheduler, "MainPID"); a != "active" || p != pid {
		t.Fatalf("after the broken reload: %s, MainPID %s (was %s)", a, p, pid)
	}
	before := runs()["quick_aling"]
	b.waitFor(t, "the last good definition still firing", sdWait, func() (bool, string) {
		n := runs()
		return n["quick_aling"] >= before+3 && n["ping"] == 0, fmt.Sprint(n)
	})
	if v, out := show(); v.Method != "quick_aling" || !strings.Contains(string(v.Trigger), `"interval"`) {
		t.Errorf("the broken file changed the schedule: %s", out)
	}
	// The journal has the problem as fields: file, line, key and fix.
	es := b.journal(t, "-u "+sdScheduler+" MESSAGE='schedule file invalid; the schedule keeps its last good definition'")
	if e := sdFind(es, map[string]string{"SZ_FILE": filesEtc + "/" + filesID + ".schedule.d/20-bad.conf", "SZ_LINE": "2", "SZ_KEY": "Overlap"}); e == nil ||
		!strings.Contains(journalField(e, "SZ_FIX"), "use one of") {
		t.Errorf("no journal record with the file, line, key and fix:\n%s", sdSummary(es))
	}
	// apply --check says the same, for a configuration repository's CI.
	out, err := b.cli("apply --check")
	if err == nil || !strings.Contains(out, "20-bad.conf:2: Overlap=:") {
		t.Errorf("apply --check: %v\n%s", err, out)
	}
	t.Logf("systemctl status: %s", status())
}
