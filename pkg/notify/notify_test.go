package notify

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/schedulezero/schedulezero/pkg/event"
	"github.com/schedulezero/schedulezero/pkg/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// schedules is an engine of fixed schedules whose handler calls count.
type schedules struct {
	list  []store.Schedule
	calls atomic.Int64
}

func (s *schedules) GetSchedule(_ context.Context, id string) (store.Schedule, error) {
	for _, x := range s.list {
		if x.ID == id {
			return x, nil
		}
	}
	return store.Schedule{}, store.ErrNotFound
}
func (s *schedules) SchedulePage(_ context.Context, after string, limit int) ([]store.Schedule, bool, error) {
	var out []store.Schedule
	for _, x := range s.list { // sorted by id
		if x.ID > after {
			out = append(out, x)
		}
	}
	if len(out) > limit {
		return out[:limit], true, nil
	}
	return out, false, nil
}
func (s *schedules) PolicyPage(ctx context.Context, after string, limit int) (map[string]store.Policy, string, error) {
	page, more, err := s.SchedulePage(ctx, after, limit)
	out := map[string]store.Policy{}
	for _, x := range page {
		if !x.Policy.IsZero() {
			out[x.ID] = x.Policy
		}
	}
	next := ""
	if more {
		next = page[len(page)-1].ID
	}
	return out, next, err
}

func (s *schedules) Call(context.Context, string, string, json.RawMessage) error {
	s.calls.Add(1)
	return nil
}

func openDB(t *testing.T, path string) *store.DB {
	t.Helper()
	db, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func await(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10s", what)
		}
	}
}

// A receiver that refuses (4xx) is not retried: the notification is
// recorded failed after one delivery, a 503 is retried; a handler target
// calls the engine; what is pending when the notifier stops is delivered
// by the next one, from the store.
func TestNotifier_OutcomesAndRestart(t *testing.T) {
	var refused, flaky atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/refuse":
			refused.Add(1)
			http.Error(w, "no", http.StatusForbidden)
		case "/flaky":
			if flaky.Add(1) < 3 {
				http.Error(w, "later", http.StatusServiceUnavailable)
				return
			}
			w.WriteHeader(http.StatusOK)
		}
	}))
	defer srv.Close()
	path := filepath.Join(t.TempDir(), "sz.db")
	db := openDB(t, path)
	eng := &schedules{list: []store.Schedule{
		{ID: "a", Policy: store.Policy{OnFailure: srv.URL + "/refuse"}},
		{ID: "b", Policy: store.Policy{OnFailure: srv.URL + "/flaky"}},
		{ID: "c", Policy: store.Policy{OnFailure: "handler:mailer"}},
	}}
	n, err := New(Options{Store: db, Engine: eng, Backoff: 5 * time.Millisecond, BackoffMax: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := n.Start(ctx); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"a", "b", "c"} {
		n.Observe(event.Event{Kind: event.ExecutionFinished, ScheduleID: id, ExecutionID: "x-" + id, Attempt: 1, MaxAttempts: 1, Status: "error", Final: true})
	}
	n.Observe(event.Event{Kind: event.ExecutionFinished, ScheduleID: "a", ExecutionID: "x-a", Attempt: 1, Status: "error"}) // not final: ignored
	await(t, "every notification settled", func() bool {
		p, err := db.ListNotifications(ctx, store.NotificationPending)
		all, _ := db.ListNotifications(ctx, "")
		return err == nil && len(p) == 0 && len(all) == 3
	})
	n.Stop()
	failed, _ := db.ListNotifications(ctx, store.NotificationFailed)
	if len(failed) != 1 || failed[0].ScheduleID != "a" || failed[0].Attempts != 1 || refused.Load() != 1 {
		t.Errorf("refused: %+v after %d deliveries, want one failed after 1", failed, refused.Load())
	}
	if flaky.Load() != 3 || eng.calls.Load() != 1 {
		t.Errorf("flaky receiver saw %d deliveries (want 3), the handler %d calls (want 1)", flaky.Load(), eng.calls.Load())
	}

	// A pending record from before a restart is delivered by the next
	// notifier.
	rec := store.Notification{ID: "0000000000000001.failure-y", Target: srv.URL + "/flaky", Event: EventFailure,
		Payload: json.RawMessage(`{}`), Status: store.NotificationPending, CreatedAt: time.Now()}
	if err := db.Commit(ctx, store.Writes{Notifications: []store.Notification{rec}}); err != nil {
		t.Fatal(err)
	}
	n2, err := New(Options{Store: db, Engine: eng})
	if err != nil {
		t.Fatal(err)
	}
	if err := n2.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer n2.Stop()
	await(t, "the pending record sent", func() bool {
		sent, _ := db.ListNotifications(ctx, store.NotificationSent)
		return len(sent) == 3
	})
	if err := db.Close(); err != nil {
		t.Error(err)
	}
}

// Backoff doubles up to its cap; a signature verifies and a changed body
// does not.
func TestBackoffAndSignature(t *testing.T) {
	n := &Notifier{opts: Options{Backoff: time.Second, BackoffMax: 5 * time.Second}}
	for i, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second} {
		if got := n.backoff(i + 1); got != want {
			t.Errorf("backoff(%d) = %v, want %v", i+1, got, want)
		}
	}
	secret, body := []byte("s3cret"), []byte(`{"id":"1"}`)
	if sig := Sign(secret, body); !Verify(secret, body, sig) || Verify(secret, []byte(`{"id":"2"}`), sig) || Verify([]byte("other"), body, sig) {
		t.Error("signature check is wrong")
	}
}

// A schedule that names its own dead man's switch, found by the start-up
// scan, is notified once per silence however often the check runs, and
// again after a success and a new silence.
func TestNotifier_DeadManOncePerSilence(t *testing.T) {
	var got atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got.Add(1) }))
	defer srv.Close()
	db := openDB(t, filepath.Join(t.TempDir(), "sz.db"))
	defer db.Close()
	created := time.Now().Add(-time.Hour)
	eng := &schedules{list: []store.Schedule{
		{ID: "quiet", CreatedAt: created},
		{ID: "watched", CreatedAt: created, Policy: store.Policy{OnDeadMan: srv.URL, DeadManAfter: 30 * time.Minute}},
	}}
	n, err := New(Options{Store: db, Engine: eng, CheckEvery: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := n.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer n.Stop()
	sent := func(want int) func() bool {
		return func() bool {
			l, _ := db.ListNotifications(ctx, store.NotificationSent)
			return len(l) == want
		}
	}
	await(t, "one dead man's notification", sent(1))
	// Ten more checks: still one.
	deadline := time.Now().Add(50 * time.Millisecond)
	for time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if l, _ := db.ListNotifications(ctx, ""); len(l) != 1 || l[0].ScheduleID != "watched" || l[0].Event != EventDeadMan {
		t.Fatalf("notifications %+v, want one dead_man of watched", l)
	}
	// A success long enough ago starts a new silence: one more.
	n.Observe(event.Event{Kind: event.ExecutionFinished, ScheduleID: "watched", ExecutionID: "x", Status: "success", Final: true,
		Time: time.Now().Add(-31 * time.Minute)})
	await(t, "a second dead man's notification", sent(2))
	if got.Load() != 2 {
		t.Errorf("receiver got %d, want 2", got.Load())
	}
}

// Observe never blocks: with nobody reading, a full inbox drops and
// counts; events no notification can be for are not even queued.
func TestNotifier_ObserveNeverBlocks(t *testing.T) {
	db := openDB(t, filepath.Join(t.TempDir(), "sz.db"))
	defer db.Close()
	n, err := New(Options{Store: db, Engine: &schedules{}, Inbox: 2})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 10 {
			n.Observe(event.Event{Kind: event.ExecutionMissed, ScheduleID: "s", ExecutionID: strconv.Itoa(i)})
			n.Observe(event.Event{Kind: event.ExecutionStarted, ScheduleID: "s"})               // not for a notification
			n.Observe(event.Event{Kind: event.ExecutionFinished, Final: true, Status: "error"}) // no schedule: a run-now call
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Observe blocked on a full inbox")
	}
	if got := n.Dropped(); got != 8 {
		t.Errorf("Dropped() = %d, want 8 (10 missed events, an inbox of 2)", got)
	}
}

// A final failure recorded just before a crash, whose notification was
// not, is notified by the next start, once; a store that never held a
// notification (a first start) notifies nothing old, and nothing from
// before the newest notification is caught up.
func TestNotifier_CatchUpAfterCrash(t *testing.T) {
	var got atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got.Add(1) }))
	defer srv.Close()
	db := openDB(t, filepath.Join(t.TempDir(), "sz.db"))
	defer db.Close()
	ctx := context.Background()
	now := time.Now().UTC()
	record := func(id string, at time.Time) {
		t.Helper()
		fail := store.Execution{ID: id, Attempt: 2, MaxAttempts: 2, ScheduleID: "a", HandlerID: "h", Method: "m",
			Status: store.StatusFailed, StartedAt: at, CompletedAt: at, Error: "boom"}
		if err := db.Commit(ctx, store.Writes{Executions: []store.Execution{fail}}); err != nil {
			t.Fatal(err)
		}
	}
	record("01JOLD", now.Add(-time.Hour)) // before the notifier ever ran
	eng := &schedules{list: []store.Schedule{{ID: "a", Policy: store.Policy{OnFailure: srv.URL}}}}
	start := func() {
		t.Helper()
		n, err := New(Options{Store: db, Engine: eng})
		if err != nil {
			t.Fatal(err)
		}
		if err := n.Start(ctx); err != nil {
			t.Fatal(err)
		}
		if rec, err := n.Test(ctx, srv.URL); err != nil || rec.Status != store.NotificationSent {
			t.Fatalf("test notification: %+v, %v", rec, err)
		}
		await(t, "nothing pending", func() bool {
			p, err := db.ListNotifications(ctx, store.NotificationPending)
			return err == nil && len(p) == 0
		})
		n.Stop()
	}
	start() // a first start: nothing old is notified
	if l, _ := db.ListNotifications(ctx, ""); len(l) != 1 || l[0].Event != EventTest {
		t.Fatalf("after a first start: %+v, want the test notification only", l)
	}
	record("01JCRASH", time.Now().UTC()) // committed, then the crash
	start()                              // the store has notifications: the crash's failure is caught up
	start()                              // and only once
	var failures []store.Notification
	l, _ := db.ListNotifications(ctx, "")
	for _, x := range l {
		if x.Event == EventFailure {
			failures = append(failures, x)
		}
	}
	if len(failures) != 1 || failures[0].ExecutionID != "01JCRASH" || failures[0].Status != store.NotificationSent {
		t.Errorf("failure notifications %+v, want one of 01JCRASH, sent", failures)
	}
	if got.Load() != 4 { // three tests and the failure
		t.Errorf("receiver got %d, want 4", got.Load())
	}
}
