package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/schedulezero/schedulezero/pkg/api"
	"github.com/schedulezero/schedulezero/pkg/store"
)

// Notifications lists the recorded notifications, oldest first; with a
// status (pending, sent, failed), only those in it.
func (c *Client) Notifications(ctx context.Context, status store.NotificationStatus) ([]store.Notification, error) {
	var l api.NotificationList
	path := "/api/v1/notifications"
	if status != "" {
		path += "?status=" + url.QueryEscape(string(status))
	}
	return l.Notifications, c.do(ctx, http.MethodGet, path, nil, &l)
}

// NotifyTest sends a test notification to target (the scheduler's default
// failure target when empty) and returns its record: Status "sent", or
// "failed" with the Error.
func (c *Client) NotifyTest(ctx context.Context, target string) (store.Notification, error) {
	var n store.Notification
	return n, c.do(ctx, http.MethodPost, "/api/v1/notifications/test", api.NotifyTestRequest{Target: target}, &n)
}
