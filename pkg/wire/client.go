package wire

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
)

// Client is the handler side of the registration channel. Like the
// original's REQ socket it has one request in flight at a time; unlike it,
// a timed-out request throws the socket away instead of leaving it stuck.
type Client struct {
	conn     *Conn
	endpoint string

	mu        sync.Mutex
	handlerID string
	secret    string // sent with pings and status reports of handlerID
	self      string // the handler's instance id, sent with them too
	instance  string
	protocol  int // what the scheduler said it speaks with us
}

// NewClient returns a Client for the scheduler at endpoint. It does not
// connect until the first request.
func NewClient(endpoint string, logger *slog.Logger, opts ...Option) *Client {
	return &Client{conn: Dial(endpoint, ProtocolOriginal, logger, opts...), endpoint: endpoint}
}

// Register sends a register request and returns the status the scheduler
// answered: "registered" or "re-registered".
func (c *Client) Register(ctx context.Context, r Registration) (string, error) {
	p := map[string]any{"handler_id": r.HandlerID, "address": r.Address, "methods": r.Methods}
	if p["methods"] == nil {
		p["methods"] = []string{}
	}
	if r.Protocol != 0 {
		p["protocol"] = r.Protocol
	}
	if r.Concurrency != 0 {
		p["concurrency"] = r.Concurrency
	}
	if r.Secret != "" {
		p["secret"] = r.Secret
	}
	if r.JobToken != "" {
		p["job_token"] = r.JobToken
	}
	if r.Instance != "" {
		p["instance_id"] = r.Instance
	}
	if r.Host != "" {
		p["host"] = r.Host
	}
	if len(r.Labels) > 0 {
		p["labels"] = r.Labels
	}
	if r.Heartbeat > 0 {
		p["heartbeat_ms"] = r.Heartbeat.Milliseconds()
	}
	reply, err := c.call(ctx, "register", p)
	if err != nil {
		return "", err
	}
	var body struct {
		Status   string `json:"status"`
		Instance string `json:"instance"`
		Protocol int    `json:"protocol"`
	}
	_ = json.Unmarshal(reply.Raw, &body)
	c.mu.Lock()
	c.handlerID = r.HandlerID
	c.secret = r.Secret
	c.self = r.Instance
	c.instance = body.Instance
	c.protocol = body.Protocol
	c.mu.Unlock()
	return body.Status, nil
}

// SchedulerProtocol is the protocol version the scheduler said, in its
// answer to the last Register, it speaks with this handler: 0 when it
// did not say (a scheduler older than protocol 4, or no Register yet).
func (c *Client) SchedulerProtocol() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.protocol
}

// Ping checks the scheduler. After a Register it carries the handler id
// and its secret (a liveness touch) and returns ErrSchedulerRestarted when
// a different scheduler instance answers.
func (c *Client) Ping(ctx context.Context) error {
	c.mu.Lock()
	id, secret, self, inst := c.handlerID, c.secret, c.self, c.instance
	c.mu.Unlock()
	var params any
	if id != "" {
		params = withInstance(withSecret(map[string]string{"handler_id": id}, secret), self)
	}
	reply, err := c.call(ctx, "ping", params)
	if err != nil {
		return err
	}
	var body struct {
		Instance string `json:"instance"`
	}
	_ = json.Unmarshal(reply.Raw, &body)
	if inst != "" && body.Instance != inst {
		return fmt.Errorf("ping %s: %w", c.endpoint, ErrSchedulerRestarted)
	}
	return nil
}

// ReportStatus tells the scheduler the handler's status ("stopping", then
// "offline", on stop), with the secret of the last Register when it was for
// handlerID. An unknown handler gives an error wrapping ErrUnknownHandler.
func (c *Client) ReportStatus(ctx context.Context, handlerID, status string) error {
	c.mu.Lock()
	secret, self := "", ""
	if handlerID == c.handlerID {
		secret, self = c.secret, c.self
	}
	c.mu.Unlock()
	_, err := c.call(ctx, "report_status", withInstance(withSecret(map[string]string{"handler_id": handlerID, "status": status}, secret), self))
	return err
}

func withInstance(p map[string]string, instance string) map[string]string {
	if instance != "" {
		p["instance_id"] = instance
	}
	return p
}

func withSecret(p map[string]string, secret string) map[string]string {
	if secret != "" {
		p["secret"] = secret
	}
	return p
}

// Close releases the socket.
func (c *Client) Close() error { return c.conn.Close() }

func (c *Client) call(ctx context.Context, method string, params any) (Reply, error) {
	req := Request{Method: method}
	if params != nil {
		b, err := json.Marshal(params)
		if err != nil {
			return Reply{}, fmt.Errorf("%s: %w", method, err)
		}
		req.Params = b
	}
	reply, err := c.conn.Call(ctx, req)
	if err != nil {
		return Reply{}, err
	}
	if !reply.Success {
		if reply.Error == "Handler not registered" {
			return reply, fmt.Errorf("%s %s: %w", method, c.endpoint, ErrUnknownHandler)
		}
		var r struct {
			Refused bool `json:"refused"`
		}
		if _ = json.Unmarshal(reply.Raw, &r); r.Refused {
			return reply, fmt.Errorf("%s %s: scheduler said %q: %w", method, c.endpoint, reply.Error, ErrRefused)
		}
		return reply, fmt.Errorf("%s %s: scheduler said %q: %w", method, c.endpoint, reply.Error, ErrProtocol)
	}
	return reply, nil
}
