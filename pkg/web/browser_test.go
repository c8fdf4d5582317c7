package web_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/schedulezero/schedulezero/pkg/api"
	"github.com/schedulezero/schedulezero/pkg/client"
	"github.com/schedulezero/schedulezero/pkg/schedulerd"
	"github.com/schedulezero/schedulezero/pkg/store"
)

// -update writes the screenshots of docs/dashboard.md from this run.
var update = flag.Bool("update", false, "write the pages' screenshots to docs/dashboard/")

const token = "dashboard-test-token-0123456789"

// browser starts one headless Chromium for the whole test, with a fresh
// profile and nothing that would reach out to the network.
func browser(t *testing.T) (context.Context, context.CancelFunc) {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium is not installed (apt-get install chromium): the dashboard's browser tests need it")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	// The first run starts the browser for the life of its context: this
	// one, not a step's, which ends with the step.
	if err := chromedp.Do(ctx); err != nil {
		cancelTab()
		cancelAlloc()
		t.Fatalf("starting chromium: %v", err)
	}
	ctx, cancelTime := context.WithTimeout(ctx, 90*time.Second)
	return ctx, func() { cancelTime(); cancelTab(); cancelAlloc() }
}

// daemon starts a real scheduler in dir (a new one when ""), with an API
// token, an embedded dingaling and an embedded exec handler "echo" whose
// method hello prints; with, if given, changes its options.
func daemon(t testing.TB, dir string, with ...func(*schedulerd.Options)) (*client.Client, string) {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	echo, err := exec.LookPath("echo")
	if err != nil {
		t.Skip(err)
	}
	conf := fmt.Sprintf(`{"kind":"exec","methods":{"hello":{"command":[%q,"hello from the dashboard test"]}}}`, echo)
	if err := os.WriteFile(filepath.Join(dir, "echo.json"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	opts := schedulerd.Options{
		DBPath: filepath.Join(dir, "sz.db"), ZMQBind: "ipc://" + filepath.Join(dir, "zmq.sock"), HTTPListen: []string{"127.0.0.1:0"},
		Embed: []string{"dingaling", "exec:echo"}, HandlerConfigDir: dir, Tokens: []string{token}, StopTimeout: 5 * time.Second,
		Location: time.UTC,
	}
	for _, w := range with {
		w(&opts)
	}
	d, err := schedulerd.New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Start(context.Background()); err != nil {
		_ = d.Stop(context.Background())
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Stop(context.Background()) })
	base := "http://" + d.HTTPAddrs()[0].String()
	c, err := client.New(base, client.WithToken(token))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c, base
}

func addSchedule(t *testing.T, c *client.Client, id, handler, method, trig, zone string) {
	t.Helper()
	if _, err := c.CreateSchedule(context.Background(), api.CreateScheduleRequest{ID: id, HandlerID: handler, Method: method,
		Trigger: json.RawMessage(trig), Timezone: zone}); err != nil {
		t.Fatal(err)
	}
}

// shot saves the page as docs/dashboard/name.png under -update.
func shot(name string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		if !*update {
			return nil
		}
		png, err := chromedp.FullScreenshot(100)(ctx, tg)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join("..", "..", "docs", "dashboard", name+".png"), png, 0o644)
	})
}

// logIn types the token on the login page shown and waits for then.
func logIn[S chromedp.Selectable](then S) []chromedp.Action[chromedp.Void] {
	return []chromedp.Action[chromedp.Void]{
		chromedp.SendKeys(chromedp.ID("token"), token),
		chromedp.Click(chromedp.ID("login")),
		chromedp.WaitVisible(then),
	}
}

// run runs steps in the tab, failing the test with what on an error.
// Each is bounded by stepTimeout; on a failure the page's URL and text
// are shown.
func run(ctx context.Context, t *testing.T, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(sctx, steps...); err != nil {
		page, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + "\n" + document.body.innerText`))
		t.Fatalf("%s: %v\n%s", what, err, page)
	}
}

const stepTimeout = 15 * time.Second

// eval evaluates a JavaScript expression in the tab.
func eval[T any](ctx context.Context, t *testing.T, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return v
}

// text reads the text of the element sel selects.
func text(ctx context.Context, t *testing.T, sel chromedp.CSS) string {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Text(sel))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return v
}

// TestDashboard_InARealBrowser drives every page against a real scheduler.
func TestDashboard_InARealBrowser(t *testing.T) {
	ctx, cancel := browser(t)
	defer cancel()
	d, base := daemon(t, "")
	addSchedule(t, d, "nightly-report", "dingaling", "counter_test", `{"type":"calendar","expr":"Mon..Fri 09:00"}`, "Europe/Berlin")
	addSchedule(t, d, "every-ten", "dingaling", "visual_ping", `{"type":"cron","expr":"*/10 * * * *"}`, "")
	addSchedule(t, d, "hello", "echo", "hello", `{"type":"interval","hours":6}`, "")

	// Without the token: the HTTP status, and in the browser a login page
	// instead of the data.
	resp, err := http.Get(base + "/schedules")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /schedules without a session: %d, want 401", resp.StatusCode)
	}
	run(ctx, t, "the login page",
		chromedp.Navigate(base+"/schedules"),
		chromedp.WaitVisible(chromedp.ID("token")),
		shot("login"),
	)
	if n := eval[int](ctx, t, `document.querySelectorAll("#schedules").length`); n != 0 {
		t.Fatal("the schedules table is shown without the token")
	}
	run(ctx, t, "a wrong token",
		chromedp.SendKeys(chromedp.ID("token"), "not-the-token"),
		chromedp.Click(chromedp.ID("login")),
		chromedp.WaitVisible(chromedp.CSS(`p.error`)),
	)
	run(ctx, t, "logging in", logIn(chromedp.ID("schedules"))...)
	if c := eval[string](ctx, t, `document.cookie`); c != "" {
		t.Errorf("a script reads the cookies %q: the session cookie must be HttpOnly", c)
	}

	// Overview, with the live badge on once the stream is open.
	run(ctx, t, "the overview",
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#live.on`)),
		chromedp.WaitVisible(chromedp.CSS(`svg.timeline rect.fire`)),
	)

	// A schedule fires while the executions page is open: its row appears
	// without a reload (a marker set on the page survives).
	run(ctx, t, "the executions page",
		chromedp.Navigate(base+"/executions"),
		chromedp.WaitVisible(chromedp.CSS(`#live.on`)),
	)
	eval[int](ctx, t, `window.szMarker = 42`)
	addSchedule(t, d, "live-one", "dingaling", "quick_aling", `{"type":"interval","seconds":1}`, "")
	run(ctx, t, "the fire appearing live",
		chromedp.WaitVisible(chromedp.Search(`//div[@id="executions"]//a[text()="live-one"]/ancestor::tr/td[contains(@class,"ok")]`)),
	)
	if m := eval[int](ctx, t, `window.szMarker || 0`); m != 42 {
		t.Fatal("the page was reloaded: the new execution did not come live")
	}

	// Back on the overview: the live feed lists events as they come.
	run(ctx, t, "the live feed",
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#feed li.ev`)),
		shot("overview"),
	)
	run(ctx, t, "the schedules list",
		chromedp.Navigate(base+"/schedules"),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-schedule="nightly-report"]`)),
		shot("schedules"),
	)

	// Pause from the schedule's page, confirmed: the engine is paused.
	run(ctx, t, "pausing",
		chromedp.Navigate(base+"/schedules/live-one"),
		chromedp.WaitVisible(chromedp.CSS(`svg.strip rect.s-ok`)),
		chromedp.Click(chromedp.ID("action-pause")),
		chromedp.WaitVisible(chromedp.ID("confirm-yes")),
	)
	if sc, err := d.Schedule(context.Background(), "live-one"); err != nil || sc.Paused {
		t.Fatalf("paused before the confirmation: %+v %v", sc, err)
	}
	run(ctx, t, "confirming the pause",
		chromedp.Click(chromedp.ID("confirm-yes")),
		chromedp.WaitVisible(chromedp.ID("action-resume")),
	)
	if st := text(ctx, t, "#state"); st != "paused" {
		t.Errorf("the page shows the state %q, want paused", st)
	}
	if sc, err := d.Schedule(context.Background(), "live-one"); err != nil || !sc.Paused {
		t.Fatalf("after pausing from the page the engine has %+v %v, want paused", sc, err)
	}
	run(ctx, t, "a schedule's page",
		chromedp.Navigate(base+"/schedules/nightly-report"),
		chromedp.WaitVisible(chromedp.CSS(`#next-fires li:nth-child(10)`)),
		shot("schedule"),
	)

	// Run now from the page; the execution's page shows its output.
	run(ctx, t, "run now and the execution's output",
		chromedp.Navigate(base+"/schedules/hello"),
		chromedp.Click(chromedp.ID("action-run")),
		chromedp.WaitVisible(chromedp.ID("confirm-yes")),
		chromedp.Click(chromedp.ID("confirm-yes")),
		chromedp.WaitVisible(chromedp.ID("execution-id")),
		chromedp.WaitVisible(chromedp.CSS(`pre.stdout`)), // live: it may finish after the page opened
		shot("execution"),
	)
	if out, journal := text(ctx, t, "pre.stdout"), text(ctx, t, "#journal"); !strings.Contains(out, "hello from the dashboard test") ||
		!strings.HasPrefix(journal, "journalctl SZ_EXECUTION_ID=") {
		t.Errorf("the execution page shows stdout %q and logs %q", out, journal)
	}
	recs, err := d.Executions(context.Background(), client.ExecutionQuery{ScheduleID: "hello"})
	if err != nil || len(recs) == 0 || recs[0].Status != store.StatusSucceeded {
		t.Errorf("the run from the page: %+v %v", recs, err)
	}

	run(ctx, t, "the executions page, filtered",
		chromedp.Navigate(base+"/executions?status=success"),
		chromedp.WaitVisible(chromedp.CSS(`#executions td.ok`)),
		shot("executions"),
	)
	run(ctx, t, "the handlers page",
		chromedp.Navigate(base+"/handlers"),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-handler="echo"] td.ok`)),
		chromedp.WaitVisible(chromedp.ID("governor-none")),
	)
	if n := eval[int](ctx, t, `document.querySelectorAll("#handlers tr[data-handler]").length`); n != 2 {
		t.Errorf("%d handlers listed, want dingaling and echo", n)
	}

	// The calendar preview, typed in the form, against schedulezero calendar.
	const expr, zone = "Mon..Fri 09:00", "America/New_York"
	run(ctx, t, "the calendar preview",
		chromedp.Navigate(base+"/calendar"),
		chromedp.SendKeys(chromedp.ID("expr"), expr),
		chromedp.SendKeys(chromedp.ID("tz"), zone),
		chromedp.Click(chromedp.ID("preview")),
		chromedp.WaitVisible(chromedp.ID("cal-next")),
		shot("calendar"),
	)
	shown := eval[[]string](ctx, t, `Array.from(document.querySelectorAll("#cal-next time")).map(e => e.getAttribute("datetime"))`)
	if want := cliCalendar(t, expr, zone); strings.Join(shown, " ") != strings.Join(want, " ") {
		t.Errorf("the preview shows\n%v\nschedulezero calendar prints\n%v", shown, want)
	}
}

// cliCalendar runs schedulezero calendar and returns its next 10 fires.
func cliCalendar(t *testing.T, expr, zone string) []string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "schedulezero")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/schedulezero").CombinedOutput(); err != nil {
		t.Fatalf("building schedulezero: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "--json", "calendar", "--tz", zone, "-n", "10", expr).Output()
	if err != nil {
		t.Fatalf("schedulezero calendar: %v", err)
	}
	var occ []struct {
		Next []time.Time `json:"next"`
	}
	if err := json.Unmarshal(out, &occ); err != nil || len(occ) != 1 {
		t.Fatalf("schedulezero calendar --json: %v\n%s", err, out)
	}
	var s []string
	for _, n := range occ[0].Next {
		s = append(s, n.UTC().Format(time.RFC3339))
	}
	return s
}
