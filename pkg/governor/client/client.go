// Package client is the Go client of schedulezero-governor's HTTP API on
// its unix socket; `schedulezero handlers …` uses it.
package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/schedulezero/schedulezero/pkg/client"
	"github.com/schedulezero/schedulezero/pkg/governor"
)

// DefaultTimeout bounds a call whose context has no deadline. Stops and
// removes wait for the handler's stop timeout on top.
const DefaultTimeout = 30 * time.Second

// ErrUnreachable means the governor did not answer.
var ErrUnreachable = errors.New("governor API unreachable")

// Client calls one governor. It is safe for concurrent use. Its error
// answers are *client.APIError of the scheduler's client package: both
// APIs speak the same envelope through the same Transport.
type Client struct {
	t *client.Transport
}

// New returns a client of addr: "unix:/run/schedulezero/governor.sock", a
// socket path, or "http://host:port".
func New(addr string) (*Client, error) {
	switch {
	case strings.HasPrefix(addr, "http://"), strings.HasPrefix(addr, "https://"):
		u, err := url.Parse(addr)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("address %q: not a URL with a host", addr)
		}
		return &Client{t: client.NewTransport(addr, strings.TrimSuffix(addr, "/"), "", ErrUnreachable)}, nil
	}
	path := strings.TrimPrefix(strings.TrimPrefix(addr, "unix:"), "//")
	if path == "" {
		return nil, fmt.Errorf("address %q: empty socket path (use unix:/path/to/governor.sock)", addr)
	}
	return &Client{t: client.NewTransport(addr, "http://governor", path, ErrUnreachable)}, nil
}

// Close releases idle connections.
func (c *Client) Close() { c.t.Close() }

// do bounds a call whose context has no deadline by DefaultTimeout: stops
// and removes bring their own, longer, deadline.
func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultTimeout)
		defer cancel()
	}
	return c.t.Do(ctx, method, path, in, out)
}

func handlerPath(name string, rest ...string) string {
	return "/v1/handlers/" + url.PathEscape(name) + strings.Join(rest, "")
}

func timeoutQuery(d time.Duration) string {
	if d <= 0 {
		return ""
	}
	return "?timeout=" + url.QueryEscape(d.String())
}

// List returns every handler (`schedulezero handlers list`).
func (c *Client) List(ctx context.Context) ([]governor.HandlerInfo, error) {
	var out struct {
		Handlers []governor.HandlerInfo `json:"handlers"`
	}
	err := c.do(ctx, http.MethodGet, "/v1/handlers", nil, &out)
	return out.Handlers, err
}

// Add adds and starts a handler (`schedulezero handlers add`).
func (c *Client) Add(ctx context.Context, cfg governor.HandlerConfig) (governor.HandlerInfo, error) {
	var hi governor.HandlerInfo
	err := c.do(ctx, http.MethodPost, "/v1/handlers", cfg, &hi)
	return hi, err
}

// Status returns one handler (`schedulezero handlers status NAME`).
func (c *Client) Status(ctx context.Context, name string) (governor.HandlerInfo, error) {
	var hi governor.HandlerInfo
	err := c.do(ctx, http.MethodGet, handlerPath(name), nil, &hi)
	return hi, err
}

// Remove stops, disables and deletes a handler; timeout 0 is the server's
// default.
func (c *Client) Remove(ctx context.Context, name string, timeout time.Duration) error {
	return c.do(ctx, http.MethodDelete, handlerPath(name)+timeoutQuery(timeout), nil, nil)
}

// Start starts a handler.
func (c *Client) Start(ctx context.Context, name string) (governor.HandlerInfo, error) {
	var hi governor.HandlerInfo
	err := c.do(ctx, http.MethodPost, handlerPath(name, "/start"), nil, &hi)
	return hi, err
}

// Stop stops a handler; the governor leaves it stopped.
func (c *Client) Stop(ctx context.Context, name string, timeout time.Duration) (governor.HandlerInfo, error) {
	var hi governor.HandlerInfo
	err := c.do(ctx, http.MethodPost, handlerPath(name, "/stop")+timeoutQuery(timeout), nil, &hi)
	return hi, err
}

// Restart restarts a handler and resets its restart budget.
func (c *Client) Restart(ctx context.Context, name string) (governor.HandlerInfo, error) {
	var hi governor.HandlerInfo
	err := c.do(ctx, http.MethodPost, handlerPath(name, "/restart"), nil, &hi)
	return hi, err
}

// Metrics returns the deployment summary.
func (c *Client) Metrics(ctx context.Context) (governor.Metrics, error) {
	var m governor.Metrics
	err := c.do(ctx, http.MethodGet, "/v1/metrics", nil, &m)
	return m, err
}

// Health returns whether each handler is healthy.
func (c *Client) Health(ctx context.Context) (map[string]bool, error) {
	var m map[string]bool
	err := c.do(ctx, http.MethodGet, "/v1/health", nil, &m)
	return m, err
}
