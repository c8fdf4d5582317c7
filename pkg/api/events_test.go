package api_test

import (
	"bufio"
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/api"
	"github.com/schedulezero/schedulezero/pkg/client"
	"github.com/schedulezero/schedulezero/pkg/event"
)

var errEnough = errors.New("enough")

// follow reads c's stream until n items came, and returns them; the
// "live" markers are not counted.
func follow(t *testing.T, c *client.Client, q client.EventQuery, n int) []client.StreamEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var got []client.StreamEvent
	err := c.Events(ctx, q, func(se client.StreamEvent) error {
		if se.Live {
			return nil
		}
		got = append(got, se)
		if len(got) >= n {
			return errEnough
		}
		return nil
	})
	if !errors.Is(err, errEnough) {
		t.Fatalf("stream ended after %d of %d items: %v", len(got), n, err)
	}
	return got
}

func newStream(t *testing.T, ring int, opts api.Options) (*event.Hub, *testBundle, *client.Client) {
	t.Helper()
	hub := event.NewHub(ring)
	opts.Events = hub
	tb := setup(t, opts)
	var copts []client.Option
	if len(opts.Tokens) > 0 {
		copts = append(copts, client.WithToken(opts.Tokens[0]))
	}
	c, err := client.New(tb.srv.URL, copts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return hub, tb, c
}

func TestEvents_ResumeAfterLastEventID(t *testing.T) {
	hub, _, c := newStream(t, 16, api.Options{})
	for range 5 {
		hub.Publish(event.Event{Kind: event.ExecutionFinished, ScheduleID: "a", Status: "success"})
	}
	all := follow(t, c, client.EventQuery{After: api.EventIDForTest(hub, 0)}, 5)
	for i, se := range all {
		if se.Event.Seq != uint64(i+1) || se.Lost != nil {
			t.Fatalf("item %d = %+v, want seq %d", i, se, i+1)
		}
	}
	// A reconnect with the id of the third gets the fourth and fifth.
	rest := follow(t, c, client.EventQuery{After: all[2].ID}, 2)
	if rest[0].Event.Seq != 4 || rest[1].Event.Seq != 5 {
		t.Fatalf("resumed with %d, %d; want 4, 5", rest[0].Event.Seq, rest[1].Event.Seq)
	}
}

func TestEvents_LostWhenTheRingNoLongerHoldsThem(t *testing.T) {
	hub, _, c := newStream(t, 4, api.Options{})
	for range 10 {
		hub.Publish(event.Event{Kind: event.ExecutionStarted})
	}
	got := follow(t, c, client.EventQuery{After: api.EventIDForTest(hub, 2)}, 2)
	if got[0].Lost == nil || got[0].Lost.Missed != 4 {
		t.Fatalf("first item %+v, want a lost notice of 4 events (3 to 6)", got[0])
	}
	if got[1].Event.Seq != 7 {
		t.Fatalf("then seq %d, want 7", got[1].Event.Seq)
	}
	// "0": all it holds, without a notice.
	got = follow(t, c, client.EventQuery{After: "0"}, 1)
	if got[0].Lost != nil || got[0].Event.Seq != 7 {
		t.Fatalf("after 0: %+v, want seq 7 without a lost notice", got[0])
	}
	// A position of another run (a restarted scheduler): told, and given
	// all this run holds.
	got = follow(t, c, client.EventQuery{After: "1-3"}, 2)
	if got[0].Lost == nil || got[1].Event.Seq != 7 {
		t.Fatalf("after a restart: %+v, %+v; want a lost notice then seq 7", got[0], got[1])
	}
}

func TestEvents_LiveAndFiltered(t *testing.T) {
	hub, _, c := newStream(t, 64, api.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got := make(chan client.StreamEvent, 10)
	done := make(chan error, 1)
	go func() {
		done <- c.Events(ctx, client.EventQuery{Kinds: []string{"schedule."}, ScheduleID: "b"}, func(se client.StreamEvent) error {
			if !se.Live {
				got <- se
			}
			return nil
		})
	}()
	// Publish until the subscriber is there, then the events it must see.
	for hub.Subscribers() == 0 {
		time.Sleep(time.Millisecond)
	}
	hub.Publish(event.Event{Kind: event.ExecutionStarted, ScheduleID: "b"}) // another kind
	hub.Publish(event.Event{Kind: event.SchedulePaused, ScheduleID: "a"})   // another schedule
	hub.Publish(event.Event{Kind: event.SchedulePaused, ScheduleID: "b"})
	select {
	case se := <-got:
		if se.Event.Kind != event.SchedulePaused || se.Event.ScheduleID != "b" || se.Event.Seq != 3 {
			t.Fatalf("got %+v, want schedule.paused of b (seq 3)", se.Event)
		}
	case <-ctx.Done():
		t.Fatal("no event")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Events after cancel: %v", err)
	}
}

func TestEvents_RawStream(t *testing.T) {
	hub, tb, _ := newStream(t, 8, api.Options{EventHeartbeat: 20 * time.Millisecond})
	hub.Publish(event.Event{Kind: event.HandlerOnline, HandlerID: "h"})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", tb.srv.URL+"/api/v1/events?after="+api.EventIDForTest(hub, 0), nil)
	resp, err := tb.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	sc := bufio.NewScanner(resp.Body)
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if sc.Text() == ": heartbeat" {
			break
		}
	}
	text := strings.Join(lines, "\n")
	for _, want := range []string{"retry: 2000", "id: " + api.EventIDForTest(hub, 1), "event: handler.online", `data: {"seq":1,`, "event: live", `"handler_id":"h"`, ": heartbeat"} {
		if !strings.Contains(text, want) {
			t.Errorf("stream lacks %q:\n%s", want, text)
		}
	}
}

func TestEvents_AuthTokenOrSessionCookieOnReads(t *testing.T) {
	const token = "a-long-enough-token-value"
	_, tb, _ := newStream(t, 8, api.Options{Tokens: []string{token}})
	if code, _ := tb.do(t, "GET", "/api/v1/events", ""); code != http.StatusUnauthorized {
		t.Fatalf("without token: %d, want 401", code)
	}
	if code, _ := tb.do(t, "GET", "/api/v1/events", "", "Cookie", api.SessionCookie+"=forged.abc"); code != http.StatusUnauthorized {
		t.Fatalf("forged cookie: %d, want 401", code)
	}
	sess, ok := api.NewSessions([]string{token}).Login(token)
	if !ok {
		t.Fatal("Login refused the token")
	}
	if code, _ := tb.do(t, "GET", "/api/v1/schedules", "", "Cookie", api.SessionCookie+"="+sess); code != http.StatusOK {
		t.Fatalf("read with a session cookie: %d, want 200", code)
	}
	// A cookie is sent by the browser on its own: it changes nothing.
	if code, _ := tb.do(t, "DELETE", "/api/v1/schedules/x", "", "Cookie", api.SessionCookie+"="+sess); code != http.StatusUnauthorized {
		t.Fatalf("write with a session cookie: %d, want 401", code)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", tb.srv.URL+"/api/v1/events", nil)
	req.AddCookie(&http.Cookie{Name: api.SessionCookie, Value: sess})
	resp, err := tb.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("event stream with a session cookie: %d", resp.StatusCode)
	}
}
