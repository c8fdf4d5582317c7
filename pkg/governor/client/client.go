// Package client is the Go client of schedulezero-governor's HTTP API on
// its unix socket; `schedulezero handlers …` uses it.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/schedulezero/schedulezero/pkg/governor"
)

// DefaultTimeout bounds a call whose context has no deadline. Stops and
// removes wait for the handler's stop timeout on top.
const DefaultTimeout = 30 * time.Second

// ErrUnreachable means the governor did not answer.
var ErrUnreachable = errors.New("governor API unreachable")

// APIError is an error answer of the governor.
type APIError struct {
	Status  int    // HTTP status
	Message string // the server's message
	Field   string // the offending field, if any
	Fix     string // what would be accepted, if known
}

func (e *APIError) Error() string {
	msg := fmt.Sprintf("%d: %s", e.Status, e.Message)
	if e.Fix != "" && !strings.Contains(e.Message, e.Fix) {
		msg += " (" + e.Fix + ")"
	}
	return msg
}

// NotFound reports whether err is a 404 answer.
func NotFound(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == http.StatusNotFound
}

// Client calls one governor. It is safe for concurrent use.
type Client struct {
	addr string
	base string
	hc   *http.Client
}

// New returns a client of addr: "unix:/run/schedulezero/governor.sock", a
// socket path, or "http://host:port".
func New(addr string) (*Client, error) {
	c := &Client{addr: addr}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	switch {
	case strings.HasPrefix(addr, "http://"), strings.HasPrefix(addr, "https://"):
		u, err := url.Parse(addr)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("address %q: not a URL with a host", addr)
		}
		c.base = strings.TrimSuffix(addr, "/")
	default:
		path := strings.TrimPrefix(strings.TrimPrefix(addr, "unix:"), "//")
		if path == "" {
			return nil, fmt.Errorf("address %q: empty socket path (use unix:/path/to/governor.sock)", addr)
		}
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		}
		c.base = "http://governor"
	}
	c.hc = &http.Client{Transport: tr}
	return c, nil
}

// Close releases idle connections.
func (c *Client) Close() { c.hc.CloseIdleConnections() }

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultTimeout)
		defer cancel()
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%w at %s: %w", ErrUnreachable, c.addr, err)
	}
	defer resp.Body.Close() //nolint:errcheck // read fully below
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		var eb struct {
			Error struct {
				Message, Field, Fix string
			} `json:"error"`
		}
		ae := &APIError{Status: resp.StatusCode, Message: strings.TrimSpace(string(data))}
		if json.Unmarshal(data, &eb) == nil && eb.Error.Message != "" {
			ae.Message, ae.Field, ae.Fix = eb.Error.Message, eb.Error.Field, eb.Error.Fix
		}
		return ae
	}
	if out == nil || len(data) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: decode: %w", method, path, err)
	}
	return nil
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
