package client

import (
	"context"
	"net/url"

	"github.com/schedulezero/schedulezero/pkg/api"
)

// DeleteScheduleFrom deletes schedule id on behalf of source, the file
// that manages it ("file:<path>"): the API refuses to delete a
// file-managed schedule for anyone else.
func (c *Client) DeleteScheduleFrom(ctx context.Context, id, source string) error {
	return c.do(ctx, "DELETE", "/api/v1/schedules/"+url.PathEscape(id)+"?source="+url.QueryEscape(source), nil, nil)
}

// DetachSchedule takes schedule id from the file that manages it: the API
// edits and deletes it from then on, and the file no longer does.
func (c *Client) DetachSchedule(ctx context.Context, id string) (api.Schedule, error) {
	var out api.Schedule
	empty := ""
	err := c.do(ctx, "PATCH", "/api/v1/schedules/"+url.PathEscape(id)+"?detach=true", api.UpdateScheduleRequest{Source: &empty}, &out)
	return out, err
}

// Config is the scheduler's effective configuration (GET /api/config).
func (c *Client) Config(ctx context.Context) (map[string]any, error) {
	var out map[string]any
	err := c.do(ctx, "GET", "/api/config", nil, &out)
	return out, err
}
