package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/schedulezero/schedulezero/pkg/api"
	"github.com/schedulezero/schedulezero/pkg/store"
)

// Notifications lists the newest limit recorded notifications (0: the
// server's default, 100; at most 1000), oldest first; with a status
// (pending, sent, failed), only those in it.
func (c *Client) Notifications(ctx context.Context, status store.NotificationStatus, limit int) ([]store.Notification, error) {
	var l api.NotificationList
	q := url.Values{}
	if status != "" {
		q.Set("status", string(status))
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	path := "/api/v1/notifications"
	if len(q) > 0 {
		path += "?" + q.Encode()
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
