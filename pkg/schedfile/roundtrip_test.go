package schedfile_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/schedulezero/schedulezero/pkg/handler"
	"github.com/schedulezero/schedulezero/pkg/schedfile"
	"github.com/schedulezero/schedulezero/pkg/scheduler"
	"github.com/schedulezero/schedulezero/pkg/scheduler/schedtype"
	"github.com/schedulezero/schedulezero/pkg/store"
	"github.com/schedulezero/schedulezero/pkg/store/storetest"
	"github.com/schedulezero/schedulezero/pkg/trigger"
	"github.com/schedulezero/schedulezero/pkg/wire/wiretest"
)

// newEngine starts the real engine over a bbolt file with one real
// handler, h, offering m1 and m2.
func newEngine(t *testing.T) *scheduler.Scheduler {
	t.Helper()
	ctx := context.Background()
	eng, err := scheduler.New(ctx, scheduler.Options{Store: storetest.New(t), Logger: slog.New(slog.DiscardHandler), Location: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	srv := wiretest.Serve(t, eng.Registry())
	if err := eng.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := eng.Stop(sctx); err != nil {
			t.Errorf("engine stop: %v", err)
		}
	})
	mux := handler.NewMux()
	for _, m := range []string{"m1", "m2"} {
		mux.HandleFunc(m, func(context.Context, *handler.Job) (any, error) { return map[string]any{"success": true}, nil })
	}
	hctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- handler.Serve(hctx, mux, handler.Options{Name: "h", Endpoint: wiretest.IPC(t, "h"), Scheduler: srv.Addr(),
			Concurrency: 1, Logger: slog.New(slog.DiscardHandler)})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("handler: %v", err)
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		hs, _ := eng.Handlers(ctx)
		if slices.ContainsFunc(hs, func(h schedtype.HandlerStatus) bool { return h.ID == "h" && h.Status == "online" }) {
			return eng
		}
		if time.Now().After(deadline) {
			t.Fatal("handler not online after 10s")
		}
		time.Sleep(5 * time.Millisecond) // polling a condition with a deadline
	}
}

// drawTrigger draws a trigger object of every type and form the API takes.
func drawTrigger(t *rapid.T) map[string]any {
	future := time.Now().Add(time.Duration(rapid.IntRange(1, 1000).Draw(t, "days")) * 24 * time.Hour).UTC().Truncate(time.Second)
	bound := func(m map[string]any) map[string]any {
		if rapid.Bool().Draw(t, "start") {
			m["start_time"] = future.Add(-12 * time.Hour).Format(time.RFC3339) // ahead: an occurrence due now would be gone by the apply
		}
		if rapid.Bool().Draw(t, "end") {
			m["end_time"] = future.AddDate(20, 0, 0).Format(time.RFC3339) // past the second occurrence of the longest interval
		}
		return m
	}
	switch rapid.IntRange(0, 5).Draw(t, "kind") {
	case 0:
		m := map[string]any{"type": "interval"}
		for _, u := range []string{"weeks", "days", "hours", "minutes", "seconds"} {
			if rapid.IntRange(0, 3).Draw(t, u+"?") == 0 {
				m[u] = rapid.SampledFrom([]float64{1, 2, 0.5, 1.25, 10, 90}).Draw(t, u)
			}
		}
		if len(m) == 1 {
			m["seconds"] = rapid.IntRange(1, 100000).Draw(t, "secs")
		}
		return bound(m)
	case 1:
		return bound(map[string]any{"type": "cron", "expr": rapid.SampledFrom([]string{
			"*/5 * * * *", "0 9 * * mon-fri", "30 2 1,15 * *", "0 0 L * *", "@daily", "@hourly", "15 3 * jan-jun sun",
			"0 */2 * * *", "0 0 0 * * ?", "@every 1h30m", "CRON_TZ=Asia/Tokyo 0 8 * * *",
		}).Draw(t, "cron")})
	case 2:
		m := map[string]any{"type": "cron"}
		m["hour"] = rapid.SampledFrom([]string{"*/2", "9-17", "3"}).Draw(t, "hour")
		m["minute"] = rapid.SampledFrom([]string{"0", "*/15", "5,35"}).Draw(t, "minute")
		if rapid.Bool().Draw(t, "dow") {
			m["day_of_week"] = "mon-fri"
		}
		return bound(m)
	case 3:
		m := map[string]any{"type": "calendar", "expr": rapid.SampledFrom([]string{
			"daily", "weekly", "Mon..Fri *-*-* 09:00", "*-*-* 02:00 Europe/Berlin", "*:0/15", "Sat *-*-1..7 18:00:00",
			"*-*-* 06,18:00", "quarterly", "*-02-28 12:00",
		}).Draw(t, "cal")}
		if rapid.Bool().Draw(t, "caltz") {
			m["timezone"] = rapid.SampledFrom([]string{"America/New_York", "UTC"}).Draw(t, "caltzname")
		}
		return bound(m)
	case 4:
		return map[string]any{"type": "date", "run_date": future.Format(time.RFC3339)}
	default:
		return map[string]any{"type": "interval", "hours": rapid.IntRange(1, 48).Draw(t, "h"),
			"start_time": future.Format("2006-01-02T15:04:05")}
	}
}

func drawRequest(t *rapid.T, id string) schedtype.ScheduleRequest {
	trig, _ := json.Marshal(drawTrigger(t))
	pick := func(label string, vals ...string) string { return rapid.SampledFrom(vals).Draw(t, label) }
	span := func(label string) time.Duration {
		return rapid.SampledFrom([]time.Duration{0, time.Second, 1500 * time.Millisecond, 10 * time.Minute, 90 * time.Minute, 36 * time.Hour}).Draw(t, label)
	}
	pol := store.Policy{
		Misfire: pick("misfire", "", "skip", "once", "all"), MisfireLimit: rapid.IntRange(0, 500).Draw(t, "ml"),
		GraceTime: span("grace"), Overlap: pick("overlap", "", "skip", "allow", "queue", "replace"),
		QueueLimit: rapid.IntRange(0, 50).Draw(t, "ql"), RandomDelay: span("rd"), RandomOffset: span("ro"),
		MaxRuns: int64(rapid.IntRange(0, 1000).Draw(t, "mr")), Backoff: span("bo"), BackoffMax: span("bom"),
		OnFailure: pick("of", "", "none", "https://hooks.example.org/x?a=1&b=2"), OnMissed: pick("om", "", "handler:mail"),
		OnRecovery: pick("or", "", "handler:mail/notify.page"), OnDeadMan: pick("od", "", "http://127.0.0.1:9/dead"),
	}
	if pol.OnDeadMan != "" {
		pol.DeadManAfter = span("dma")
	}
	if rapid.Bool().Draw(t, "retry_on") {
		pol.RetryOn = rapid.SliceOfNDistinct(rapid.SampledFrom([]string{"error", "timeout", "unavailable"}), 1, 3, func(s string) string { return s }).Draw(t, "ro_list")
	}
	if rapid.Bool().Draw(t, "on") {
		pol.On = rapid.SliceOfNDistinct(rapid.SampledFrom([]string{"zone=a", "zone=b", "gpu=yes", "rack=r1.2/x"}), 1, 3, func(s string) string { return s }).Draw(t, "on_list")
	}
	return schedtype.ScheduleRequest{
		ID: id, HandlerID: "h", Method: pick("method", "m1", "m2"),
		Params:  json.RawMessage(pick("params", "", `{}`, `{"target": "nas"}`, `{"n": 1.5, "list": [1, "two", null], "nested": {"a": true}}`, `{"s": "quote \" and \\ and ünïcode"}`)),
		Trigger: trig, Timezone: pick("tz", "", "UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe"),
		MaxAttempts: rapid.IntRange(0, 100).Draw(t, "attempts"), Timeout: span("timeout"), Policy: pol,
	}
}

// Any schedule the API accepts exports to a file that applies back to an
// equal schedule: export, delete, apply.
func TestRoundTrip_ExportDeleteApply(t *testing.T) {
	eng := newEngine(t)
	ctx := context.Background()
	n, checked := 0, 0
	t.Cleanup(func() {
		if checked < 50 {
			t.Errorf("only %d of %d drawn schedules were accepted and checked", checked, n)
		}
	})
	rapid.Check(t, func(rt *rapid.T) {
		n++
		id := fmt.Sprintf("s%d", n) + rapid.SampledFrom([]string{"", ".daily", "_x:y@z-w", "-.."}).Draw(rt, "id")
		req := drawRequest(rt, id)
		orig, err := eng.AddSchedule(ctx, req)
		if err != nil {
			rt.Skipf("the engine refuses it: %v", err) // not a schedule the API accepts
		}
		if rapid.Bool().Draw(rt, "paused") {
			if orig, err = eng.PauseSchedule(ctx, id); err != nil {
				rt.Fatal(err)
			}
		}
		dir := filepath.Join(t.TempDir(), "schedules.d")
		if err := os.Mkdir(dir, 0o755); err != nil {
			rt.Fatal(err)
		}
		text := schedfile.Render(orig, schedfile.RenderOptions{DefaultZone: "UTC"})
		if err := os.WriteFile(filepath.Join(dir, id+".schedule"), text, 0o644); err != nil {
			rt.Fatal(err)
		}
		if err := eng.DeleteSchedule(ctx, id); err != nil {
			rt.Fatal(err)
		}
		set, err := schedfile.Load([]string{dir})
		if err != nil {
			rt.Fatal(err)
		}
		if len(set.Invalid) > 0 {
			rt.Fatalf("the export does not load: %v\n%s", set.Errors(), text)
		}
		cur, _ := eng.ListSchedules(ctx)
		plan := schedfile.MakePlan(set, cur, time.UTC)
		if res := schedfile.Apply(ctx, eng, plan); len(res.Failed) > 0 || res.Created != 1 {
			rt.Fatalf("apply: %+v %v\n%s", res, res.Failed, text)
		}
		got, err := eng.GetSchedule(ctx, id)
		if err != nil {
			rt.Fatal(err)
		}
		defer func() { _ = eng.DeleteSchedule(ctx, id) }()
		checked++
		if d := differences(orig, got); d != "" {
			rt.Fatalf("%s\nfile:\n%s", d, text)
		}
		// And applying the same file again changes nothing.
		cur, _ = eng.ListSchedules(ctx)
		if again := schedfile.MakePlan(set, cur, time.UTC); len(again.Steps) != 0 {
			rt.Fatalf("a second apply would do %+v", again.Steps)
		}
	})
}

// differences compares what a user defined of two schedules: everything
// but the counters, times and the source; triggers by their next fires.
func differences(a, b store.Schedule) string {
	type def struct {
		Handler, Method, Params, Timezone string
		MaxAttempts                       int
		Timeout                           time.Duration
		Policy                            string
		Paused                            bool
	}
	norm := func(s store.Schedule) def {
		var p any
		_ = json.Unmarshal(s.Params, &p)
		if m, ok := p.(map[string]any); ok && len(m) == 0 {
			p = nil
		}
		pj, _ := json.Marshal(p)
		if len(s.Policy.RetryOn) == 0 {
			s.Policy.RetryOn = nil
		}
		if len(s.Policy.On) == 0 {
			s.Policy.On = nil
		}
		pol, _ := json.Marshal(s.Policy)
		return def{s.HandlerID, s.Method, string(pj), s.Timezone, s.MaxAttempts, s.Timeout, string(pol), s.Paused}
	}
	if x, y := norm(a), norm(b); x != y {
		return fmt.Sprintf("exported %+v\napplied  %+v", x, y)
	}
	fa, fb := fires(a), fires(b)
	if !slices.Equal(fa, fb) {
		return fmt.Sprintf("trigger %s fires %v\napplied %s fires %v", a.Trigger, fa, b.Trigger, fb)
	}
	return ""
}

func fires(s store.Schedule) []string {
	loc := time.UTC
	if s.Timezone != "" {
		loc, _ = time.LoadLocation(s.Timezone)
	}
	trig, _, err := trigger.Parse(s.Trigger, time.Now(), loc)
	if err != nil {
		return []string{err.Error()}
	}
	var out []string
	at := time.Now()
	for range 8 {
		n, ok := trig.Next(at)
		if !ok {
			break
		}
		out = append(out, n.UTC().Format(time.RFC3339Nano))
		at = n
	}
	return out
}
