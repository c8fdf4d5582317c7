package integration

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/notify"
	"github.com/schedulezero/schedulezero/pkg/notify/notifytest"
)

type notificationList struct {
	Notifications []struct {
		ID       string `json:"id"`
		Event    string `json:"event"`
		Status   string `json:"status"`
		Attempts int    `json:"attempts"`
		Error    string `json:"error"`
	} `json:"notifications"`
}

// Acceptance: the receiver is down when a job fails for good; the
// notification is queued durably and retried, survives a kill -9 of the
// scheduler, and once the receiver is back the restarted scheduler
// delivers it, signed, exactly once.
func TestKill9Scheduler_NotificationDeliveredAfterRestart(t *testing.T) {
	secret := []byte("integration-notify-secret-0123456789")
	rcv := notifytest.New(t, secret)
	rcv.Down()
	d := newDeployment(t)
	secretFile := filepath.Join(d.dir, "notify-secret")
	if err := os.WriteFile(secretFile, secret, 0o600); err != nil {
		t.Fatal(err)
	}
	flags := []string{"--notify-on-failure", rcv.URL, "--notify-secret-file", secretFile, "--notify-backoff-max", "100ms"}
	sched, a := d.startScheduler(t, flags...)
	cfg := writeExecHandler(t, d.dir, "worker", 2, map[string][]string{"fail": {"/bin/false"}})
	d.startHandler(t, a, "worker", "--config", cfg)

	if _, err := a.do("POST", "/api/v1/schedules", map[string]any{"id": "nightly", "handler_id": "worker", "job_method": "fail",
		"trigger": map[string]any{"type": "interval", "seconds": 1}, "max_attempts": 1, "policy": map[string]any{"max_runs": 1}}, nil); err != nil {
		t.Fatal(err)
	}
	var l notificationList
	await(t, 20*time.Second, "a failure notification pending after failed deliveries", func() bool {
		_, err := a.do("GET", "/api/v1/notifications?status=pending", nil, &l)
		return err == nil && len(l.Notifications) == 1 && l.Notifications[0].Attempts >= 2
	})
	id := l.Notifications[0].ID
	sched.kill(syscall.SIGKILL)
	rcv.Up()
	_, a = d.startScheduler(t, flags...)
	await(t, 20*time.Second, "the webhook after the restart", func() bool { return rcv.Count(notify.EventFailure, "nightly") == 1 })
	await(t, 10*time.Second, "the notification recorded sent", func() bool {
		_, err := a.do("GET", "/api/v1/notifications?status=sent", nil, &l)
		return err == nil && len(l.Notifications) == 1
	})
	if got := l.Notifications[0]; got.ID != id || got.Attempts < 3 {
		t.Errorf("sent record %+v, want %s after 3 or more deliveries", got, id)
	}
	if m := rcv.Messages(); len(m) != 1 || m[0].ID != id || m[0].ScheduleID != "nightly" || m[0].Status != "error" {
		t.Errorf("receiver got %+v, want one failure of nightly with id %s", m, id)
	}
	if n := rcv.BadSignatures(); n != 0 {
		t.Errorf("%d deliveries with a bad signature", n)
	}
}
