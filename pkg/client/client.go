package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/schedulezero/schedulezero/pkg/api"
	"github.com/schedulezero/schedulezero/pkg/scheduler/schedtype"
	"github.com/schedulezero/schedulezero/pkg/store"
)

// DefaultTimeout bounds each call when no WithTimeout option is given.
const DefaultTimeout = 30 * time.Second

// ErrUnreachable is wrapped by every error where the server gave no HTTP
// answer: refused connection, missing socket, timeout.
var ErrUnreachable = errors.New("scheduler API unreachable")

// Client calls one scheduler's API. It is safe for concurrent use.
type Client struct {
	t       *Transport
	hc      *http.Client // WithHTTPClient's, if given
	timeout time.Duration
	token   string
}

// Option configures New.
type Option func(*Client)

// WithTimeout sets the bound of each call (0 keeps DefaultTimeout). The
// caller's context can shorten it.
func WithTimeout(d time.Duration) Option {
	return func(c *Client) {
		if d > 0 {
			c.timeout = d
		}
	}
}

// WithToken sends "Authorization: Bearer token" with every request.
func WithToken(token string) Option { return func(c *Client) { c.token = token } }

// WithHTTPClient replaces the HTTP client (its Transport is kept as given,
// so unix: addresses need their own dialer in it).
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.hc = hc } }

// New returns a client for addr: "http://host:port", "https://host:port",
// "host:port" or "unix:/path/to/api.sock".
func New(addr string, opts ...Option) (*Client, error) {
	c := &Client{timeout: DefaultTimeout}
	var base, socket string
	switch {
	case strings.HasPrefix(addr, "unix:"):
		socket = strings.TrimPrefix(strings.TrimPrefix(addr, "unix:"), "//")
		if socket == "" {
			return nil, fmt.Errorf("address %q: empty socket path (use unix:/path/to/api.sock)", addr)
		}
		base = "http://unix"
	case strings.HasPrefix(addr, "http://"), strings.HasPrefix(addr, "https://"):
		u, err := url.Parse(addr)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("address %q: not a URL with a host", addr)
		}
		base = strings.TrimSuffix(u.Scheme+"://"+u.Host+u.Path, "/")
	default:
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return nil, fmt.Errorf("address %q: use http://host:port or unix:/path", addr)
		}
		base = "http://" + addr
	}
	for _, o := range opts {
		o(c)
	}
	c.t = NewTransport(addr, base, socket, ErrUnreachable)
	c.t.token = c.token
	if c.hc != nil {
		c.t.hc = c.hc
	}
	return c, nil
}

// Close releases idle connections.
func (c *Client) Close() { c.t.Close() }

// do sends one request bounded by the client's timeout.
func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	return c.t.Do(ctx, method, path, in, out)
}

// Health checks that the scheduler answers.
func (c *Client) Health(ctx context.Context) (api.Health, error) {
	var h api.Health
	return h, c.do(ctx, http.MethodGet, "/api/v1/health", nil, &h)
}

// Handlers lists the registered handlers with their live health.
func (c *Client) Handlers(ctx context.Context) ([]schedtype.HandlerStatus, error) {
	var l api.HandlerList
	return l.Handlers, c.do(ctx, http.MethodGet, "/api/v1/handlers", nil, &l)
}

// schedulePage is how many schedules Schedules asks for per request: the
// server's largest page.
const schedulePage = 1000

// Schedules lists every schedule, by id, reading them a page at a time.
func (c *Client) Schedules(ctx context.Context) ([]api.Schedule, error) {
	out := []api.Schedule{}
	cursor := ""
	for {
		l, err := c.SchedulePage(ctx, cursor, schedulePage)
		if err != nil {
			return nil, err
		}
		out = append(out, l.Schedules...)
		if l.NextCursor == "" {
			return out, nil
		}
		cursor = l.NextCursor
	}
}

// SchedulePage returns one page of up to limit schedules (0: the server's
// default, 100), after cursor (a NextCursor; empty: from the first).
func (c *Client) SchedulePage(ctx context.Context, cursor string, limit int) (api.ScheduleList, error) {
	v := url.Values{}
	if cursor != "" {
		v.Set("cursor", cursor)
	}
	if limit > 0 {
		v.Set("limit", strconv.Itoa(limit))
	}
	path := "/api/v1/schedules"
	if len(v) > 0 {
		path += "?" + v.Encode()
	}
	var l api.ScheduleList
	return l, c.do(ctx, http.MethodGet, path, nil, &l)
}

// Schedule returns schedule id.
func (c *Client) Schedule(ctx context.Context, id string) (api.Schedule, error) {
	var s api.Schedule
	return s, c.do(ctx, http.MethodGet, "/api/v1/schedules/"+url.PathEscape(id), nil, &s)
}

// CreateSchedule adds a schedule (or replaces one when req.Replace).
func (c *Client) CreateSchedule(ctx context.Context, req api.CreateScheduleRequest) (api.Schedule, error) {
	var s api.Schedule
	return s, c.do(ctx, http.MethodPost, "/api/v1/schedules", req, &s)
}

// DeleteSchedule removes schedule id.
func (c *Client) DeleteSchedule(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/api/v1/schedules/"+url.PathEscape(id), nil, nil)
}

// PauseSchedule stops schedule id from firing until resumed.
func (c *Client) PauseSchedule(ctx context.Context, id string) (api.Schedule, error) {
	var s api.Schedule
	return s, c.do(ctx, http.MethodPost, "/api/v1/schedules/"+url.PathEscape(id)+"/pause", nil, &s)
}

// ResumeSchedule lets schedule id fire again.
func (c *Client) ResumeSchedule(ctx context.Context, id string) (api.Schedule, error) {
	var s api.Schedule
	return s, c.do(ctx, http.MethodPost, "/api/v1/schedules/"+url.PathEscape(id)+"/resume", nil, &s)
}

// UpdateSchedule edits schedule id: only the fields set in req change, and
// req.Policy's keys are merged into the current policy.
func (c *Client) UpdateSchedule(ctx context.Context, id string, req api.UpdateScheduleRequest) (api.Schedule, error) {
	var s api.Schedule
	return s, c.do(ctx, http.MethodPatch, "/api/v1/schedules/"+url.PathEscape(id), req, &s)
}

// RunSchedule fires schedule id now, without waiting for it to finish, and
// returns what the scheduler decided (see api.Triggered): started, with
// the execution id; skipped, with the id of its "missed" record and the
// reason; or queued behind the running one. The schedule's overlap policy
// applies unless force.
func (c *Client) RunSchedule(ctx context.Context, id string, force bool) (api.Triggered, error) {
	path := "/api/v1/schedules/" + url.PathEscape(id) + "/run"
	if force {
		path += "?force=true"
	}
	var t api.Triggered
	return t, c.do(ctx, http.MethodPost, path, nil, &t)
}

// RemoveHandler tells the scheduler that handler id was removed: it is no
// longer listed, and fires of its schedules are recorded missed.
func (c *Client) RemoveHandler(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/api/v1/handlers/"+url.PathEscape(id), nil, nil)
}

// Backfill queues every occurrence of schedule id's trigger in [from, to]
// to run in order, and returns them.
func (c *Client) Backfill(ctx context.Context, id string, from, to time.Time) (schedtype.BackfillResult, error) {
	var r schedtype.BackfillResult
	req := api.BackfillRequest{From: from.Format(time.RFC3339Nano), To: to.Format(time.RFC3339Nano)}
	return r, c.do(ctx, http.MethodPost, "/api/v1/schedules/"+url.PathEscape(id)+"/backfill", req, &r)
}

// ExecutionQuery filters Executions; zero fields match everything.
type ExecutionQuery struct {
	ScheduleID string
	HandlerID  string
	Status     store.Status
	Since      time.Time // attempts started (or, missed, scheduled) at or after it
	Until      time.Time // ... at or before it
	Limit      int       // 0: the server's default (100); at most 1000
}

// Executions lists execution attempts, newest first: up to q.Limit of them
// (0: the server's default). A page the server cut short (it reads a
// bounded number of records per page) is followed by the next one until
// the limit is reached or the history ends.
func (c *Client) Executions(ctx context.Context, q ExecutionQuery) ([]store.Execution, error) {
	want := q.Limit
	out := []store.Execution{}
	cursor := ""
	for {
		if want > 0 {
			q.Limit = want - len(out)
		}
		l, err := c.ExecutionPage(ctx, q, cursor)
		if err != nil {
			return nil, err
		}
		out = append(out, l.Executions...)
		if l.NextCursor == "" || (want > 0 && len(out) >= want) || (want <= 0 && len(out) > 0) {
			return out, nil
		}
		cursor = l.NextCursor
	}
}

// ExecutionPage returns one page of attempts matching q after cursor (a
// NextCursor; empty: from the newest).
func (c *Client) ExecutionPage(ctx context.Context, q ExecutionQuery, cursor string) (api.ExecutionList, error) {
	v := url.Values{}
	for k, s := range map[string]string{"schedule_id": q.ScheduleID, "handler_id": q.HandlerID, "status": string(q.Status), "cursor": cursor} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if !q.Since.IsZero() {
		v.Set("since", q.Since.UTC().Format(time.RFC3339Nano))
	}
	if !q.Until.IsZero() {
		v.Set("until", q.Until.UTC().Format(time.RFC3339Nano))
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	path := "/api/v1/executions"
	if len(v) > 0 {
		path += "?" + v.Encode()
	}
	var l api.ExecutionList
	return l, c.do(ctx, http.MethodGet, path, nil, &l)
}

// Execution returns every attempt of execution id, first attempt first.
func (c *Client) Execution(ctx context.Context, id string) ([]store.Execution, error) {
	var a api.ExecutionAttempts
	return a.Attempts, c.do(ctx, http.MethodGet, "/api/v1/executions/"+url.PathEscape(id), nil, &a)
}

// Stats summarises execution history.
func (c *Client) Stats(ctx context.Context) (api.Stats, error) {
	var s api.Stats
	return s, c.do(ctx, http.MethodGet, "/api/v1/stats", nil, &s)
}

// RunNow calls a handler method once and waits for the final attempt; the
// call is bounded by the client's timeout like every other.
func (c *Client) RunNow(ctx context.Context, req api.RunNowRequest) (store.Execution, error) {
	var e store.Execution
	return e, c.do(ctx, http.MethodPost, "/api/v1/run", req, &e)
}

// ClearExecutions empties the execution history (the original's
// POST /api/executions/clear).
func (c *Client) ClearExecutions(ctx context.Context) error {
	return c.do(ctx, http.MethodPost, "/api/executions/clear", nil, nil)
}
