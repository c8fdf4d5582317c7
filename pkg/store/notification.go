package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// bucketNotifications holds the notification queue and its record. It is
// created by the first write that needs it, so a file without one (older
// builds) needs no migration and reads as an empty queue.
var bucketNotifications = []byte("notifications")

// NotificationStatus is where a notification is in its delivery.
type NotificationStatus string

// The notification statuses.
const (
	NotificationPending NotificationStatus = "pending" // queued, not yet delivered
	NotificationSent    NotificationStatus = "sent"    // the target accepted it
	NotificationFailed  NotificationStatus = "failed"  // given up after its attempts
)

// Notification is one message to one target: queued durably, in the same
// group commit as the engine's writes, so that it survives a restart and is
// sent at least once.
type Notification struct {
	ID          string             `json:"id"` // time-sortable: a cursor walks them in queue order
	Target      string             `json:"target"`
	Event       string             `json:"event"` // failure, missed, recovery, deadman, test
	ScheduleID  string             `json:"schedule_id,omitempty"`
	ExecutionID string             `json:"execution_id,omitempty"`
	Payload     json.RawMessage    `json:"payload"`
	Status      NotificationStatus `json:"status"`
	Attempts    int                `json:"attempts,omitempty"`
	Error       string             `json:"error,omitempty"`
	CreatedAt   time.Time          `json:"created_at"`
	SentAt      time.Time          `json:"sent_at,omitzero"`
}

// putNotifications stores recs (encoded in vals) and deletes the
// notifications named by del.
func putNotifications(tx *bolt.Tx, recs []Notification, vals [][]byte, del []string) error {
	if len(recs) == 0 && len(del) == 0 {
		return nil
	}
	b, err := tx.CreateBucketIfNotExists(bucketNotifications)
	if err != nil {
		return fmt.Errorf("bucket %s: %w", bucketNotifications, err)
	}
	for i := range recs {
		if err := b.Put([]byte(recs[i].ID), vals[i]); err != nil {
			return fmt.Errorf("notification %q: %w", recs[i].ID, err)
		}
	}
	for _, id := range del {
		if err := b.Delete([]byte(id)); err != nil {
			return fmt.Errorf("notification %q: %w", id, err)
		}
	}
	return nil
}

// ListNotifications returns the stored notifications, oldest first; with a
// status, only those in it.
func (db *DB) ListNotifications(ctx context.Context, status NotificationStatus) ([]Notification, error) {
	var out []Notification
	err := db.view(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketNotifications)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			var n Notification
			if err := json.Unmarshal(v, &n); err != nil {
				return fmt.Errorf("notification %q: %w", k, err)
			}
			if status == "" || n.Status == status {
				out = append(out, n)
			}
			return nil
		})
	})
	return out, err
}
