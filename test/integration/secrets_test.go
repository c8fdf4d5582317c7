package integration

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/store"
)

const (
	workerSecret = "worker-secret-0123456789abcdef"
	lockedSecret = "locked-secret-0123456789abcdef"
	wrongSecret  = "wrong-secret-0123456789abcdef"
)

// secretFile writes secret into a private file of dir.
func secretFile(t *testing.T, dir, name, secret string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func mkdir(t *testing.T, path string) string {
	t.Helper()
	if err := os.Mkdir(path, 0o700); err != nil {
		t.Fatal(err)
	}
	return path
}

func awaitLog(t *testing.T, p *proc, what, sub string) {
	t.Helper()
	await(t, 20*time.Second, what, func() bool {
		b, _ := os.ReadFile(p.log)
		return strings.Contains(string(b), sub)
	})
}

// awaitRefusedExit waits for a refused handler to exit with status 1, so
// that under systemd its unit fails with the reason instead of never
// becoming ready.
func awaitRefusedExit(t *testing.T, p *proc) {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		t.Fatalf("refused handler %s still runs", p.name)
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 1 {
		t.Fatalf("refused handler exited with %d, want 1", code)
	}
}

func handlerListed(t *testing.T, a *api, id string) (address, status string, ok bool) {
	t.Helper()
	var out struct {
		Handlers []struct{ ID, Address, Status string } `json:"handlers"`
	}
	if _, err := a.do("GET", "/api/handlers", nil, &out); err != nil {
		t.Fatal(err)
	}
	for _, h := range out.Handlers {
		if h.ID == id {
			return h.Address, h.Status, true
		}
	}
	return "", "", false
}

// assertNoSecretLogged fails when a log of p shows one of the secrets.
func assertNoSecretLogged(t *testing.T, ps ...*proc) {
	t.Helper()
	for _, p := range ps {
		b, _ := os.ReadFile(p.log)
		for _, s := range []string{workerSecret, lockedSecret, wrongSecret} {
			if strings.Contains(string(b), s) {
				t.Errorf("%s logged a secret", p.name)
			}
		}
	}
}

// Acceptance (hardening): with --handler-secrets-dir, a handler with the
// right secret (--secret-file) registers and gets jobs; one with a wrong or
// no secret is refused, gets no job and cannot take over the registration
// of the right one; a handler without a configured secret still registers.
func TestHandlerSecrets_RealProcesses(t *testing.T) {
	d := newDeployment(t)
	secrets := mkdir(t, filepath.Join(d.dir, "secrets"))
	secretFile(t, secrets, "worker", workerSecret)
	secretFile(t, secrets, "locked", lockedSecret)
	sched, a := d.startScheduler(t, "--handler-secrets-dir", secrets)

	marks := filepath.Join(d.dir, "runs.txt")
	legitCfg := writeExecHandler(t, d.dir, "worker-legit", 2, map[string][]string{"work": {"/bin/sh", "-c", "echo legit >> " + marks}})
	evilCfg := writeExecHandler(t, d.dir, "worker-evil", 2, map[string][]string{"work": {"/bin/sh", "-c", "echo impostor >> " + marks}})
	legitEP := "ipc://" + filepath.Join(d.dir, "legit.sock")
	legit := d.startHandler(t, a, "worker", "--config", legitCfg, "--endpoint", legitEP,
		"--secret-file", secretFile(t, d.dir, "worker.secret", workerSecret))

	runWork := func() {
		t.Helper()
		var rec execRecord
		if _, err := a.do("POST", "/api/v1/run", map[string]any{"handler_id": "worker", "job_method": "work", "timeout": "10s"}, &rec); err != nil {
			t.Fatal(err)
		}
		if rec.Status != store.StatusSucceeded {
			t.Fatalf("job: %+v", rec)
		}
	}
	runWork()

	// Two impostors: a wrong secret, and none at all.
	wrong := start(t, d.dir, "schedulezero-handler", "--name", "worker", "--scheduler", d.zmq, "--config", evilCfg,
		"--endpoint", "ipc://"+filepath.Join(d.dir, "evil1.sock"), "--secret-file", secretFile(t, d.dir, "wrong.secret", wrongSecret))
	none := start(t, d.dir, "schedulezero-handler", "--name", "worker", "--scheduler", d.zmq, "--config", evilCfg,
		"--endpoint", "ipc://"+filepath.Join(d.dir, "evil2.sock"))
	awaitLog(t, wrong, "the wrong secret refused", "params.secret: does not match")
	awaitLog(t, none, "the missing secret refused", "params.secret: is missing")
	awaitRefusedExit(t, wrong)
	awaitRefusedExit(t, none)
	for range 3 {
		runWork()
	}
	b, _ := os.ReadFile(marks)
	if got := string(b); strings.Count(got, "legit") != 4 || strings.Contains(got, "impostor") {
		t.Fatalf("who ran the jobs:\n%s", got)
	}
	if addr, status, _ := handlerListed(t, a, "worker"); addr != legitEP || status != "online" {
		t.Fatalf("worker is %s at %s, want online at %s", status, addr, legitEP)
	}

	// A handler whose only attempt has no secret never appears.
	locked := start(t, d.dir, "schedulezero-handler", "--name", "locked", "--scheduler", d.zmq, "--kind", "dingaling",
		"--endpoint", "ipc://"+filepath.Join(d.dir, "locked.sock"))
	awaitLog(t, locked, "locked refused", "refused")
	if _, _, listed := handlerListed(t, a, "locked"); listed {
		t.Fatal("a refused handler is listed")
	}
	if code, err := a.do("POST", "/api/v1/run", map[string]any{"handler_id": "locked", "job_method": "quick_aling"}, nil); code != http.StatusNotFound {
		t.Fatalf("job for a refused handler: %d %v, want 404", code, err)
	}

	// Secrets are opt-in per handler: one without a configured secret works.
	d.startHandler(t, a, "plain", "--kind", "dingaling", "--endpoint", "ipc://"+filepath.Join(d.dir, "plain.sock"))

	awaitLog(t, sched, "the scheduler to log the refusals", "handler refused")
	assertNoSecretLogged(t, sched, legit, wrong, none, locked)
}

// The systemd way: the scheduler reads handler-secret.NAME from its
// $CREDENTIALS_DIRECTORY and, with --require-handler-secrets, refuses a
// handler it has no secret for; the handler reads its own handler-secret
// credential.
func TestHandlerSecrets_Credentials(t *testing.T) {
	d := newDeployment(t)
	schedCreds := mkdir(t, filepath.Join(d.dir, "sched-creds"))
	secretFile(t, schedCreds, "handler-secret.worker", workerSecret)
	t.Setenv("CREDENTIALS_DIRECTORY", schedCreds)
	sched, a := d.startScheduler(t, "--require-handler-secrets")

	handlerCreds := mkdir(t, filepath.Join(d.dir, "handler-creds"))
	secretFile(t, handlerCreds, "handler-secret", workerSecret)
	t.Setenv("CREDENTIALS_DIRECTORY", handlerCreds)
	worker := d.startHandler(t, a, "worker", "--kind", "dingaling", "--endpoint", "ipc://"+filepath.Join(d.dir, "worker.sock"))
	var rec execRecord
	if _, err := a.do("POST", "/api/v1/run", map[string]any{"handler_id": "worker", "job_method": "quick_aling", "timeout": "10s"}, &rec); err != nil || rec.Status != store.StatusSucceeded {
		t.Fatalf("job: %+v %v", rec, err)
	}

	t.Setenv("CREDENTIALS_DIRECTORY", mkdir(t, filepath.Join(d.dir, "no-creds")))
	plain := start(t, d.dir, "schedulezero-handler", "--name", "plain", "--scheduler", d.zmq, "--kind", "dingaling",
		"--endpoint", "ipc://"+filepath.Join(d.dir, "plain.sock"))
	awaitLog(t, plain, "plain refused", "--require-handler-secrets")
	awaitRefusedExit(t, plain)
	if _, _, listed := handlerListed(t, a, "plain"); listed {
		t.Fatal("a handler without a secret is listed although secrets are required")
	}
	assertNoSecretLogged(t, sched, worker, plain)
}
