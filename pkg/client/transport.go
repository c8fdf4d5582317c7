package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"

	"github.com/schedulezero/schedulezero/pkg/api"
)

// MaxAnswer bounds how much of an answer is read: a history page of the
// largest size fits many times over, and a runaway server cannot exhaust
// the caller's memory.
const MaxAnswer = 64 << 20

// APIError is an error answer of a ScheduleZero API (the scheduler's or
// the governor's): the envelope api.ErrorBody, decoded.
type APIError struct {
	Status  int    // HTTP status
	Message string // the server's message
	Field   string // the offending input field, if any
	Fix     string // what would be accepted, if known
}

func (e *APIError) Error() string {
	msg := fmt.Sprintf("%d: %s", e.Status, e.Message)
	if e.Field != "" && !strings.HasPrefix(e.Message, e.Field+":") {
		msg = fmt.Sprintf("%d: %s: %s", e.Status, e.Field, e.Message)
	}
	if e.Fix != "" && !strings.Contains(e.Message, e.Fix) {
		msg += " (" + e.Fix + ")"
	}
	return msg
}

// Transport sends JSON requests to one ScheduleZero HTTP API and turns its
// answers into values or *APIError. The scheduler's Client and the
// governor's client share it, so that both read answers under the same
// bound and decode the same error envelope. It is safe for concurrent use.
type Transport struct {
	addr        string // as given, for error messages
	base        string // URL prefix: scheme://host[/path]
	hc          *http.Client
	token       string
	unreachable error
}

// NewTransport returns a transport to base (scheme://host, no trailing
// slash). When socket is set every connection dials that unix socket
// instead of base's host. addr names the server in errors; unreachable is
// wrapped by every error where no HTTP answer came.
func NewTransport(addr, base, socket string, unreachable error) *Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if socket != "" {
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		}
	}
	return &Transport{addr: addr, base: base, hc: &http.Client{Transport: tr}, unreachable: unreachable}
}

// Close releases idle connections.
func (t *Transport) Close() { t.hc.CloseIdleConnections() }

// Do sends one request with in as its JSON body (when not nil) and decodes
// a 2xx answer into out (when not nil and the answer has a body). The
// caller bounds the call with ctx.
func (t *Transport) Do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("%s %s: encoding request: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, t.base+path, body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if t.token != "" {
		req.Header.Set("Authorization", "Bearer "+t.token)
	}
	resp, err := t.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s at %s: %w: %w", method, path, t.addr, t.unreachable, err)
	}
	defer resp.Body.Close() //nolint:errcheck // read fully below
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxAnswer))
	if err != nil {
		return fmt.Errorf("%s %s at %s: reading answer: %w: %w", method, path, t.addr, t.unreachable, err)
	}
	if resp.StatusCode >= 300 {
		var eb api.ErrorBody
		if json.Unmarshal(data, &eb) != nil || eb.Error.Message == "" {
			eb.Error.Message = strings.TrimSpace(string(data))
			if eb.Error.Message == "" {
				eb.Error.Message = http.StatusText(resp.StatusCode)
			}
		}
		return &APIError{Status: resp.StatusCode, Message: eb.Error.Message, Field: eb.Error.Field, Fix: eb.Error.Fix}
	}
	if out == nil || resp.StatusCode == http.StatusNoContent || len(data) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: decoding answer: %w", method, path, err)
	}
	return nil
}
