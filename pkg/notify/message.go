package notify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// The webhook's headers.
const (
	// SignatureHeader is "sha256=" and the hex HMAC-SHA256 of the body
	// with the scheduler's notification secret; absent without a secret.
	SignatureHeader = "X-Schedulezero-Signature-256"
	// EventHeader is the Message's Event, DeliveryHeader its ID (the same
	// on every retry of one notification).
	EventHeader    = "X-Schedulezero-Event"
	DeliveryHeader = "X-Schedulezero-Delivery"
)

// Message is the JSON a webhook receives as its body and a handler target
// as its job params (docs/notifications.md). Fields that do not apply to
// the event are left out.
type Message struct {
	ID    string    `json:"id"`    // the notification's; unique, the same on retries
	Event string    `json:"event"` // failure, missed, recovery, dead_man, test
	Time  time.Time `json:"time"`  // when it happened
	// Summary is one sentence for a person (a chat message, a mail subject).
	Summary     string    `json:"summary"`
	ScheduleID  string    `json:"schedule_id,omitempty"`
	HandlerID   string    `json:"handler_id,omitempty"`
	Method      string    `json:"method,omitempty"`
	ExecutionID string    `json:"execution_id,omitempty"`
	Attempt     int       `json:"attempt,omitempty"`
	MaxAttempts int       `json:"max_attempts,omitempty"`
	Status      string    `json:"status,omitempty"` // the execution's final status
	Reason      string    `json:"reason,omitempty"` // why it failed, or was missed
	ScheduledAt time.Time `json:"scheduled_at,omitzero"`
	// LastSuccessAt and SilentSeconds are a dead man's: the last success
	// (the schedule's creation if none) and how long ago it was.
	LastSuccessAt time.Time `json:"last_success_at,omitzero"`
	SilentSeconds float64   `json:"silent_seconds,omitempty"`
}

// Sign is the SignatureHeader value of body under secret.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify reports whether sig is body's signature under secret, in
// constant time: what a receiver does.
func Verify(secret, body []byte, sig string) bool {
	return hmac.Equal([]byte(sig), []byte(Sign(secret, body)))
}
