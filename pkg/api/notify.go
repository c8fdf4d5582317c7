package api

import (
	"context"
	"net/http"
	"time"

	"github.com/schedulezero/schedulezero/pkg/store"
)

// Notifications is what the API needs of the scheduler's notifier
// (package notify): its record, and a test delivery.
type Notifications interface {
	List(ctx context.Context, status store.NotificationStatus) ([]store.Notification, error)
	Test(ctx context.Context, target string) (store.Notification, error)
}

// NotifyTestRequest is the body of POST /api/v1/notifications/test: the
// target (an https:// URL or handler:NAME[/METHOD]); empty: the
// scheduler's default failure target.
type NotifyTestRequest struct {
	Target string `json:"target,omitempty"`
}

// NotificationList is the answer of GET /api/v1/notifications.
type NotificationList struct {
	Notifications []store.Notification `json:"notifications"`
}

// GET /api/v1/notifications answers the newest ?limit= records: 100 by
// default, at most 1000.
const (
	notifyListDefault = 100
	notifyListMax     = 1000
)

// notifyTestTimeout bounds the one delivery of a test notification.
const notifyTestTimeout = 20 * time.Second

func (s *server) notifyRoutes(mux *http.ServeMux, n Notifications) {
	mux.HandleFunc("GET /api/v1/notifications", func(w http.ResponseWriter, r *http.Request) {
		st := store.NotificationStatus(r.URL.Query().Get("status"))
		switch st {
		case "", store.NotificationPending, store.NotificationSent, store.NotificationFailed:
		default:
			s.writeErr(w, r, fieldErr(http.StatusBadRequest, "status", "status "+string(st)+" is not a notification status", "use pending, sent or failed"))
			return
		}
		limit, err := intQuery(r, "limit", notifyListDefault, notifyListMax)
		if err != nil {
			s.writeErr(w, r, err)
			return
		}
		list, err := n.List(r.Context(), st)
		if err != nil {
			s.writeErr(w, r, err)
			return
		}
		list = list[max(0, len(list)-limit):] // the newest, still oldest first
		s.writeJSON(w, http.StatusOK, NotificationList{Notifications: nonNil(list)})
	})
	mux.HandleFunc("POST /api/v1/notifications/test", func(w http.ResponseWriter, r *http.Request) {
		body, err := readBody(w, r, s.maxBody)
		if err != nil {
			s.writeErr(w, r, err)
			return
		}
		var req NotifyTestRequest
		if len(body) > 0 {
			if err := decodeJSON(body, &req, true); err != nil {
				s.writeErr(w, r, err)
				return
			}
		}
		ctx, cancel := context.WithTimeout(r.Context(), notifyTestTimeout)
		defer cancel()
		rec, err := n.Test(ctx, req.Target)
		if err != nil {
			s.writeErr(w, r, err)
			return
		}
		// 200 either way: the record says whether the target took it
		// ("sent") or not ("failed", with the error).
		s.writeJSON(w, http.StatusOK, rec)
	})
}
