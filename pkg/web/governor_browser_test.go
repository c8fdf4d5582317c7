package web_test

import (
	"context"
	"fmt"
	"log/slog"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/schedulezero/schedulezero/pkg/client"
	"github.com/schedulezero/schedulezero/pkg/governor"
	gclient "github.com/schedulezero/schedulezero/pkg/governor/client"
	"github.com/schedulezero/schedulezero/pkg/governord"
	"github.com/schedulezero/schedulezero/pkg/schedulerd"
)

// governorDaemon starts a real schedulezero-governor in dir, with the
// process backend: its handlers are schedulezero-handler processes that
// register with the scheduler at zmq.
func governorDaemon(t *testing.T, dir, zmq string) *gclient.Client {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "schedulezero-handler")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/schedulezero-handler").CombinedOutput(); err != nil {
		t.Fatalf("building schedulezero-handler: %v\n%s", err, out)
	}
	g, err := governord.New(governord.Options{Backend: governord.BackendProcess, ConfigDir: filepath.Join(dir, "handlers"),
		HandlerBin: bin, Scheduler: zmq, APIListen: "unix:" + filepath.Join(dir, "governor.sock"),
		CheckInterval: 200 * time.Millisecond, StopTimeout: 2 * time.Second, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Start(context.Background()); err != nil {
		_ = g.Stop(context.Background())
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Stop(context.Background()) })
	gc, err := gclient.New("unix:" + g.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(gc.Close)
	return gc
}

// awaitHandler waits until the scheduler lists handler name online.
func awaitHandler(ctx context.Context, t *testing.T, c *client.Client, name string) {
	t.Helper()
	for {
		hs, err := c.Handlers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range hs {
			if h.ID == name && h.Status == "online" {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("handler %s never registered: %v", name, hs)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// TestDashboard_GovernorRestart shows the governor's view of a handler it
// runs (a real governor, a real handler process registered with a real
// scheduler) and restarts it from the Handlers page, confirmed.
func TestDashboard_GovernorRestart(t *testing.T) {
	ctx, cancel := browser(t)
	defer cancel()
	dir := t.TempDir()
	zmq := "ipc://" + filepath.Join(dir, "zmq.sock")
	d, base := daemon(t, dir, func(o *schedulerd.Options) { o.GovernorAPI = "unix:" + filepath.Join(dir, "governor.sock") })
	gc := governorDaemon(t, dir, zmq)
	actx, acancel := context.WithTimeout(ctx, 30*time.Second)
	defer acancel()
	first, err := gc.Add(actx, governor.HandlerConfig{Name: "ding", Kind: "dingaling"})
	if err != nil {
		t.Fatal(err)
	}
	awaitHandler(actx, t, d, "ding")

	run(ctx, t, "the handlers page with the governor's view",
		chromedp.Navigate(base+"/handlers"),
		chromedp.WaitVisible(chromedp.ID("token")),
	)
	run(ctx, t, "logging in", logIn(chromedp.CSS(`tr[data-unit="ding"] td.ustate.ok`))...)
	run(ctx, t, "the handler's instance under its name",
		chromedp.WaitVisible(chromedp.CSS(`tr[data-handler="ding"] + tr.instance`)),
		shot("handlers"),
	)
	if pid := text(ctx, t, `tr[data-unit="ding"] td.pid`); pid != strconv.Itoa(first.PID) {
		t.Fatalf("the page shows PID %q, the governor %d", pid, first.PID)
	}
	if st := text(ctx, t, `tr[data-unit="ding"] td.ustate`); st != "active (running)" {
		t.Errorf("the page shows the unit state %q, want active (running)", st)
	}

	run(ctx, t, "asking to restart",
		chromedp.Click(chromedp.ID("restart-ding")),
		chromedp.WaitVisible(chromedp.ID("confirm-yes")),
	)
	if hi, err := gc.Status(actx, "ding"); err != nil || hi.PID != first.PID {
		t.Fatalf("restarted before the confirmation: %+v %v", hi, err)
	}
	run(ctx, t, "confirming the restart",
		chromedp.Click(chromedp.ID("confirm-yes")),
		chromedp.WaitVisible(chromedp.CSS(`p.flash`)),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-unit="ding"] td.ustate.ok`)),
	)
	after, err := gc.Status(actx, "ding")
	if err != nil {
		t.Fatal(err)
	}
	if after.PID == first.PID || after.PID <= 0 {
		t.Fatalf("after the restart from the page the governor has PID %d, before %d: not restarted", after.PID, first.PID)
	}
	if pid := text(ctx, t, `tr[data-unit="ding"] td.pid`); pid != fmt.Sprint(after.PID) {
		t.Errorf("after the restart the page shows PID %q, the governor %d", pid, after.PID)
	}
}
