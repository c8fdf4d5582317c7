package client

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/schedulezero/schedulezero/pkg/api"
	"github.com/schedulezero/schedulezero/pkg/event"
)

// Bounds of Events.
const (
	// streamSilence is how long a stream may stay silent before it is
	// taken for dead and reopened: several of the server's heartbeats.
	streamSilence = 4 * api.DefaultEventHeartbeat
	// streamRetry is the wait before reopening a stream that broke.
	streamRetry = time.Second
)

// EventQuery selects the events of Events. Zero fields select everything.
type EventQuery struct {
	// Kinds are event kinds, or prefixes ending in "." ("execution.").
	Kinds      []string
	ScheduleID string
	HandlerID  string
	// After is the id of the last event already seen: the stream starts
	// with what followed it, as far as the server still holds it; "0":
	// with all the server holds.
	After string
}

// StreamEvent is one item of the stream: an engine event; or, when Lost
// is set, a notice that events were lost (read the history for them); or,
// when Live is set, the end of the replay of what the server held.
type StreamEvent struct {
	ID    string // the stream's id of Event, to resume after it
	Event event.Event
	Lost  *api.EventLost
	Live  bool
}

// Events follows GET /api/v1/events and calls fn for each item until ctx
// ends (it returns nil then) or fn returns an error (returned). A stream
// that breaks or goes silent is reopened after the last event seen, so
// nothing the server still holds is missed; the first connection's
// failure is returned.
func (c *Client) Events(ctx context.Context, q EventQuery, fn func(StreamEvent) error) error {
	last := q.After
	for first := true; ; first = false {
		err := c.stream(ctx, q, &last, fn)
		var stop fnError
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.As(err, &stop):
			return stop.err
		case first && err != nil:
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(streamRetry):
		}
	}
}

// fnError carries the callback's error out of stream.
type fnError struct{ err error }

func (e fnError) Error() string { return e.err.Error() }

func (c *Client) stream(ctx context.Context, q EventQuery, last *string, fn func(StreamEvent) error) error {
	v := url.Values{}
	if len(q.Kinds) > 0 {
		v.Set("kind", strings.Join(q.Kinds, ","))
	}
	if q.ScheduleID != "" {
		v.Set("schedule_id", q.ScheduleID)
	}
	if q.HandlerID != "" {
		v.Set("handler_id", q.HandlerID)
	}
	path := "/api/v1/events"
	if len(v) > 0 {
		path += "?" + v.Encode()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Until the answer's headers, the call's timeout; then the stream's
	// silence bound, pushed back by every line.
	watchdog := time.AfterFunc(c.timeout, cancel)
	defer watchdog.Stop()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.t.base+path, nil)
	if err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	req.Header.Set("Accept", "text/event-stream")
	if *last != "" {
		req.Header.Set("Last-Event-ID", *last)
	}
	if c.t.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.t.token)
	}
	resp, err := c.t.hc.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s at %s: %w: %w", path, c.t.addr, ErrUnreachable, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		var eb api.ErrorBody
		if json.Unmarshal(data, &eb) != nil || eb.Error.Message == "" {
			eb.Error.Message = strings.TrimSpace(string(data))
		}
		return &APIError{Status: resp.StatusCode, Message: eb.Error.Message, Field: eb.Error.Field, Fix: eb.Error.Fix}
	}
	watchdog.Reset(streamSilence)
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	var id, kind string
	var data strings.Builder
	for sc.Scan() {
		watchdog.Reset(streamSilence)
		line := sc.Text()
		if line != "" {
			field, value, _ := strings.Cut(line, ":")
			value = strings.TrimPrefix(value, " ")
			switch field {
			case "id":
				id = value
			case "event":
				kind = value
			case "data":
				if data.Len() > 0 {
					data.WriteByte('\n')
				}
				data.WriteString(value)
			}
			continue
		}
		if data.Len() > 0 {
			item, err := decodeItem(id, kind, data.String())
			if err != nil {
				return fmt.Errorf("GET %s: event %s: %w", path, id, err)
			}
			if item.ID != "" {
				*last = item.ID
			}
			if err := fn(item); err != nil {
				return fnError{err}
			}
		}
		id, kind = "", ""
		data.Reset()
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("GET %s at %s: %w: %w", path, c.t.addr, ErrUnreachable, err)
	}
	return fmt.Errorf("GET %s at %s: the stream ended: %w", path, c.t.addr, ErrUnreachable)
}

func decodeItem(id, kind, data string) (StreamEvent, error) {
	if kind == "live" {
		return StreamEvent{Live: true}, nil
	}
	if kind == "lost" {
		var l api.EventLost
		if err := json.Unmarshal([]byte(data), &l); err != nil {
			return StreamEvent{}, err
		}
		return StreamEvent{Lost: &l}, nil
	}
	var e event.Event
	if err := json.Unmarshal([]byte(data), &e); err != nil {
		return StreamEvent{}, err
	}
	return StreamEvent{ID: id, Event: e}, nil
}
