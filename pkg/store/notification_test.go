package store_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/store"
)

// Notifications ride the group commit, survive a reopen, and a file that
// never held one reads as an empty queue; the commit hook sees every batch.
func TestDB_Notifications_DurableAndCounted(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sz.db")
	var mu sync.Mutex
	var records int
	db, err := store.Open(path, store.Options{CommitFunc: func(n int, took time.Duration) {
		mu.Lock()
		records += n
		mu.Unlock()
		if took <= 0 {
			t.Errorf("commit took %v", took)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := db.ListNotifications(ctx, ""); err != nil || len(got) != 0 {
		t.Fatalf("ListNotifications on a new file = %v, %v", got, err)
	}
	now := time.Now().UTC()
	n := func(id string, st store.NotificationStatus) store.Notification {
		return store.Notification{ID: id, Target: "https://example.org/hook", Event: "failure", ScheduleID: "s1",
			Payload: json.RawMessage(`{"x":1}`), Status: st, CreatedAt: now}
	}
	if err := db.Commit(ctx, store.Writes{Notifications: []store.Notification{n("n1", store.NotificationPending), n("n2", store.NotificationPending), n("n3", store.NotificationSent)}}); err != nil {
		t.Fatal(err)
	}
	if err := db.Commit(ctx, store.Writes{Notifications: []store.Notification{n("n1", store.NotificationSent)}, DeleteNotifications: []string{"n3"}}); err != nil {
		t.Fatal(err)
	}
	if err := db.Commit(ctx, store.Writes{Notifications: []store.Notification{{ID: ""}}}); err == nil {
		t.Fatal("a notification without an id was accepted")
	}
	mu.Lock()
	if records != 5 {
		t.Errorf("CommitFunc counted %d records, want 5", records)
	}
	mu.Unlock()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	pending, err := db.ListNotifications(ctx, store.NotificationPending)
	if err != nil || len(pending) != 1 || pending[0].ID != "n2" || string(pending[0].Payload) != `{"x":1}` {
		t.Fatalf("pending after reopen = %+v, %v", pending, err)
	}
	all, err := db.ListNotifications(ctx, "")
	if err != nil || len(all) != 2 || all[0].ID != "n1" || all[0].Status != store.NotificationSent {
		t.Fatalf("all after reopen = %+v, %v", all, err)
	}
}
