package schedulerd_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/api"
	"github.com/schedulezero/schedulezero/pkg/client"
	"github.com/schedulezero/schedulezero/pkg/handler"
	"github.com/schedulezero/schedulezero/pkg/notify"
	"github.com/schedulezero/schedulezero/pkg/notify/notifytest"
	"github.com/schedulezero/schedulezero/pkg/schedulerd"
	"github.com/schedulezero/schedulezero/pkg/store"
)

// notifyCalls records the messages a handler's notify.send got.
type notifyCalls struct {
	mu   sync.Mutex
	msgs []notify.Message
}

func (c *notifyCalls) send(_ context.Context, j *handler.Job) (any, error) {
	var m notify.Message
	if err := json.Unmarshal(j.Params, &m); err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.msgs = append(c.msgs, m)
	c.mu.Unlock()
	return "sent", nil
}

func (c *notifyCalls) count(event, schedule string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, m := range c.msgs {
		if m.Event == event && m.ScheduleID == schedule {
			n++
		}
	}
	return n
}

// notifications reads GET /api/v1/notifications.
func notifications(t *testing.T, base, status string) []store.Notification {
	t.Helper()
	hc := &http.Client{Timeout: 5 * time.Second}
	defer hc.CloseIdleConnections()
	resp, err := hc.Get(base + "/api/v1/notifications?status=" + status)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var l api.NotificationList
	if err := json.NewDecoder(resp.Body).Decode(&l); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/v1/notifications: %d, %v", resp.StatusCode, err)
	}
	return l.Notifications
}

// A real scheduler and a real receiver: each final failure gives exactly
// one signed webhook (a retried attempt none), each missed record one, a
// success after a failure one recovery, a silent schedule one dead man's;
// a schedule that says "none" gives none, one with a handler target calls
// the handler's notify.send instead.
func TestNotify_WebhookPerFailureMissedRecoveryDeadMan(t *testing.T) {
	secret := []byte("notify-test-secret-0123456789")
	rcv := notifytest.New(t, secret)
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "sz.db")
	now := time.Now().UTC()
	start := now.Add(-5*time.Minute + 30*time.Second)
	seed(t, dbPath, store.Schedule{ID: "outage", HandlerID: "dingaling", Method: "quick_aling",
		Trigger:  json.RawMessage(`{"type":"interval","seconds":60,"start_time":"` + start.Format(time.RFC3339Nano) + `"}`),
		NextFire: start, CreatedAt: start, UpdatedAt: start})
	d := daemon(t, schedulerd.Options{DBPath: dbPath, MinInterval: -1, Location: time.UTC, Notify: schedulerd.NotifyOptions{
		Defaults: notify.Defaults{OnFailure: rcv.URL, OnMissed: rcv.URL, OnRecovery: rcv.URL},
		Secret:   secret, CheckEvery: 20 * time.Millisecond,
	}})
	base := httpBase(d)
	calls := serveDingaling(t, d.ZMQAddr())
	c, err := client.New(base, client.WithTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	for _, req := range []api.CreateScheduleRequest{
		{ID: "paged", HandlerID: "dingaling", Method: "fail_aling", Trigger: json.RawMessage(`{"type":"interval","seconds":0.2}`),
			MaxAttempts: 1, Policy: &api.Policy{MaxRuns: 1, OnFailure: "handler:dingaling"}},
		{ID: "bad", HandlerID: "dingaling", Method: "fail_aling", Trigger: json.RawMessage(`{"type":"interval","seconds":0.2}`),
			MaxAttempts: 2, Policy: &api.Policy{MaxRuns: 2, Backoff: "10ms", BackoffMax: "10ms"}},
		{ID: "flaky", HandlerID: "dingaling", Method: "flaky_aling", Trigger: json.RawMessage(`{"type":"interval","seconds":0.2}`),
			MaxAttempts: 1, Policy: &api.Policy{MaxRuns: 3}},
		{ID: "quiet", HandlerID: "dingaling", Method: "fail_aling", Trigger: json.RawMessage(`{"type":"interval","seconds":0.2}`),
			MaxAttempts: 1, Policy: &api.Policy{MaxRuns: 1, OnFailure: "none"}},
		{ID: "silent", HandlerID: "dingaling", Method: "quick_aling", Trigger: json.RawMessage(`{"type":"interval","seconds":3600}`),
			Policy: &api.Policy{OnDeadMan: rcv.URL, DeadManAfter: "300ms"}},
	} {
		if _, err := c.CreateSchedule(ctx, req); err != nil {
			t.Fatalf("create %s: %v", req.ID, err)
		}
	}
	missed := func() int {
		hist, err := c.Executions(ctx, client.ExecutionQuery{ScheduleID: "outage", Status: "missed", Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		return len(hist)
	}
	// A fire of "bad" while its retry runs is skipped (overlap): count its
	// final failures in the history.
	badFailures := func() int { // -1 while an attempt is unfinished
		hist, err := c.Executions(ctx, client.ExecutionQuery{ScheduleID: "bad", Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range hist {
			switch {
			case !e.Status.Finished():
				return -1
			case e.Status == store.StatusFailed && e.Attempt == e.MaxAttempts:
				n++
			}
		}
		return n
	}
	await(t, "the notifications", func() bool {
		s, err := c.Schedule(ctx, "bad")
		return err == nil && s.Done && badFailures() >= 1 && rcv.Count(notify.EventFailure, "bad") == badFailures() && rcv.Count(notify.EventFailure, "flaky") == 1 &&
			rcv.Count(notify.EventRecovery, "flaky") == 1 && rcv.Count(notify.EventDeadMan, "silent") == 1 &&
			rcv.Count(notify.EventMissed, "outage") >= 1 && rcv.Count(notify.EventMissed, "outage") == missed() &&
			calls.count(notify.EventFailure, "paged") == 1 &&
			len(notifications(t, base, "pending")) == 0
	})
	// Let the dead man's check run a few more times: it must not repeat.
	deadline := time.Now().Add(200 * time.Millisecond)
	for time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	want := badFailures() + 1 + 1 + 1 + missed()
	if got := rcv.Messages(); len(got) != want {
		t.Errorf("receiver got %d webhooks, want %d: %+v", len(got), want, got)
	}
	if n := rcv.BadSignatures(); n != 0 {
		t.Errorf("%d webhooks with a bad signature", n)
	}
	if n := rcv.Count(notify.EventFailure, "quiet"); n != 0 {
		t.Errorf(`schedule with on_failure "none" notified %d times`, n)
	}
	if n := rcv.Count(notify.EventFailure, "paged"); n != 0 {
		t.Errorf("a schedule with a handler target also notified the default webhook %d times", n)
	}
	sent := notifications(t, base, "sent")
	if len(sent) != want+1 { // and the handler's
		t.Errorf("%d notifications recorded sent, want %d", len(sent), want+1)
	}
	for _, m := range rcv.Messages() {
		if m.Summary == "" || m.ID == "" || (m.Event == notify.EventFailure && (m.ExecutionID == "" || m.Status != "error" || m.Attempt != m.MaxAttempts)) {
			t.Errorf("incomplete message: %+v", m)
		}
	}
}

// The receiver is down: the notification stays pending, is retried, and
// is delivered once it comes back; notify test reports a refused target.
func TestNotify_RetriedUntilTheReceiverIsBack(t *testing.T) {
	rcv := notifytest.New(t, nil)
	rcv.Down()
	d := daemon(t, schedulerd.Options{MinInterval: -1, Notify: schedulerd.NotifyOptions{
		Defaults: notify.Defaults{OnFailure: rcv.URL}, BackoffMax: 50 * time.Millisecond,
	}})
	base := httpBase(d)
	serveDingaling(t, d.ZMQAddr())
	c, err := client.New(base, client.WithTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.CreateSchedule(context.Background(), api.CreateScheduleRequest{ID: "bad", HandlerID: "dingaling", Method: "fail_aling",
		Trigger: json.RawMessage(`{"type":"interval","seconds":0.1}`), MaxAttempts: 1, Policy: &api.Policy{MaxRuns: 1}}); err != nil {
		t.Fatal(err)
	}
	await(t, "a failed delivery, pending", func() bool {
		p := notifications(t, base, "pending")
		return len(p) == 1 && p[0].Attempts >= 2 && p[0].Error != ""
	})
	code, body := postJSON(t, base+"/api/v1/notifications/test", `{"target":"`+rcv.URL+`"}`)
	if code != http.StatusOK || !bytes.Contains(body, []byte(`"status":"failed"`)) || !bytes.Contains(body, []byte(`connection refused`)) {
		t.Errorf("notify test with the receiver down: %d %s, want 200 and failed: connection refused", code, body)
	}
	rcv.Up()
	await(t, "the delivery", func() bool { return rcv.Count(notify.EventFailure, "bad") == 1 })
	await(t, "sent recorded", func() bool { return len(notifications(t, base, "pending")) == 0 })
	if code, body := postJSON(t, base+"/api/v1/notifications/test", `{"target":"`+rcv.URL+`"}`); code != http.StatusOK || !bytes.Contains(body, []byte(`"status":"sent"`)) {
		t.Errorf("notify test: %d %s", code, body)
	}
	if code, body := postJSON(t, base+"/api/v1/notifications/test", `{"target":"ftp://x"}`); code != http.StatusBadRequest || !bytes.Contains(body, []byte(`"field":"target"`)) {
		t.Errorf("notify test of a bad target: %d %s, want 400 naming the field", code, body)
	}
	if n := rcv.Count(notify.EventFailure, "bad"); n != 1 {
		t.Errorf("delivered %d times, want 1", n)
	}
	if all := notifications(t, base, ""); len(all) != 3 { // the failure and two tests
		t.Errorf("%d notifications recorded, want 3", len(all))
	} else if last := notifications(t, base, "&limit=1"); len(last) != 1 || last[0].ID != all[2].ID {
		t.Errorf("limit=1 gave %+v, want the newest, %s", last, all[2].ID)
	}
	if code, body := getBody(t, base+"/api/v1/notifications?limit=0"); code != http.StatusBadRequest || !bytes.Contains(body, []byte(`"field":"limit"`)) {
		t.Errorf("limit=0: %d %s, want 400 naming limit", code, body)
	}
	_, text := scrape(t, base, "")
	promtoolCheck(t, text)
	m := series(t, text)
	if m[`schedulezero_notification_deliveries_total{event="failure",outcome="retry"}`] < 2 ||
		m[`schedulezero_notification_deliveries_total{event="failure",outcome="sent"}`] != 1 ||
		m[`schedulezero_notification_deliveries_total{event="test",outcome="failed"}`] != 1 {
		t.Errorf("delivery counters disagree with what happened:\n%s", text)
	}
}

func getBody(t *testing.T, url string) (int, []byte) {
	t.Helper()
	hc := &http.Client{Timeout: 5 * time.Second}
	defer hc.CloseIdleConnections()
	resp, err := hc.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func postJSON(t *testing.T, url, body string) (int, []byte) {
	t.Helper()
	hc := &http.Client{Timeout: 30 * time.Second}
	defer hc.CloseIdleConnections()
	resp, err := hc.Post(url, "application/json", bytes.NewReader([]byte(body)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}
