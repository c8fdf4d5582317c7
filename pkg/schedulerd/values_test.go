package schedulerd_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/client"
	"github.com/schedulezero/schedulezero/pkg/handler"
	"github.com/schedulezero/schedulezero/pkg/listener"
	"github.com/schedulezero/schedulezero/pkg/scheduler/schedtype"
	"github.com/schedulezero/schedulezero/pkg/schedulerd"
	"github.com/schedulezero/schedulezero/pkg/store"
	"github.com/schedulezero/schedulezero/pkg/wire/wiretest"
)

// TestDaemon_RefusesBadIDsAndFastTriggers sends, on the v1 and the legacy
// API of a real daemon, ids that once broke the CLI (a control character
// went raw into the Location header) and triggers that repeat every
// nanosecond; each is a 400 naming the field, the rule or the floor.
func TestDaemon_RefusesBadIDsAndFastTriggers(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "sz.db")
	seed(t, db)
	d := daemon(t, schedulerd.Options{DBPath: db})
	base := httpBase(d)
	const every10s = `{"type":"interval","seconds":10}`
	tests := []struct {
		name, id, trigger string
		field, says       string // "" field: accepted
	}{
		{name: "control character", id: "a\u001b[2Jb", trigger: every10s, field: "job_id", says: "A-Z a-z 0-9"},
		{name: "newline", id: "a\nb", trigger: every10s, field: "job_id", says: "A-Z a-z 0-9"},
		{name: "path and query", id: "a/../../b c?d#e", trigger: every10s, field: "job_id", says: `'/'`},
		{name: "dot dot", id: "..", trigger: every10s, field: "job_id", says: "not . or .."},
		{name: "interval 1ns", id: "fast", trigger: `{"type":"interval","seconds":1e-9}`, field: "trigger.seconds", says: "1s"},
		{name: "every 1ns", id: "fast", trigger: `{"type":"cron","expr":"@every 1ns"}`, field: "trigger.expr", says: "1s"},
		{name: "calendar 1us", id: "fast", trigger: `{"type":"calendar","expr":"*:*:0/0.000001"}`, field: "trigger.expr", says: "1s"},
		{name: "calendar every second", id: "tick", trigger: `{"type":"calendar","expr":"*:*:0/1"}`},
		{name: "every character of the rule", id: "team@host:job.v1-2_x", trigger: every10s},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			idJSON, _ := json.Marshal(tt.id)
			body := `{"handler_id":"dingaling","job_method":"ping","job_params":{},"replace":true,"job_id":` + string(idJSON) + `,"trigger":` + tt.trigger + `}`
			for _, path := range []string{"/api/v1/schedules", "/api/schedule"} {
				code, loc, f, msg := post(t, base+path, body)
				if tt.field == "" {
					if code != http.StatusCreated {
						t.Errorf("POST %s: %d %s, want 201", path, code, msg)
					}
					if path == "/api/v1/schedules" && loc != "/api/v1/schedules/"+tt.id {
						t.Errorf("POST %s: Location %q", path, loc)
					}
					continue
				}
				if code != http.StatusBadRequest || f != tt.field || !strings.Contains(msg, tt.says) {
					t.Errorf("POST %s: %d field %q %q, want 400 on %q saying %q", path, code, f, msg, tt.field, tt.says)
				}
			}
		})
	}
}

// TestDaemon_OldValuesStayManageable starts on a store written before the
// id rule and the floor: schedules with such ids are listed, read and
// deleted through the client, and the nanosecond interval is kept but
// does not fire, with an error in the log that names it and the fix.
func TestDaemon_OldValuesStayManageable(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "sz.db")
	now := time.Now()
	old := func(id, trig string) store.Schedule {
		return store.Schedule{ID: id, HandlerID: "dingaling", Method: "ping", Trigger: json.RawMessage(trig),
			NextFire: now.Add(time.Hour), CreatedAt: now, UpdatedAt: now}
	}
	hourly := `{"type":"interval","hours":1,"start_time":"` + now.Add(time.Hour).Format(time.RFC3339) + `"}`
	ids := []string{"a/../../b c?d#e", "esc\u001b[2J", "sp ace", "%2F", "..x"}
	var recs []store.Schedule
	for _, id := range ids {
		recs = append(recs, old(id, hourly))
	}
	fast := old("fast", `{"type":"interval","seconds":1e-9,"start_time":"`+now.Format(time.RFC3339Nano)+`"}`)
	fast.NextFire = now
	recs = append(recs, fast)
	seed(t, db, recs...)

	logs := &logSink{}
	d := daemon(t, schedulerd.Options{DBPath: db, Logger: slog.New(logs)})
	// Triggers compile at their first fire (start-up reads only what it
	// needs), and fast's is due now: await its error.
	var errs []map[string]string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if errs = logs.find(slog.LevelError, "schedule trigger does not compile"); len(errs) > 0 {
			break
		}
	}
	if len(errs) != 1 || errs[0]["schedule_id"] != "fast" || !strings.Contains(errs[0]["err"], "minimum interval") {
		t.Errorf("load errors %v, want one for schedule fast naming the minimum interval", errs)
	}

	c, err := client.New(httpBase(d), client.WithTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	list, err := c.Schedules(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range list {
		got = append(got, s.ID)
	}
	for _, id := range append(ids, "fast") {
		if !slices.Contains(got, id) {
			t.Errorf("list %q lacks %q", got, id)
		}
		if s, err := c.Schedule(ctx, id); err != nil || s.ID != id {
			t.Errorf("get %q = %q, %v", id, s.ID, err)
		}
		if err := c.DeleteSchedule(ctx, id); err != nil {
			t.Errorf("delete %q: %v", id, err)
		}
	}
	if list, err := c.Schedules(ctx); err != nil || len(list) != 0 {
		t.Errorf("after the deletes: %d schedules, %v", len(list), err)
	}
}

// slowConn is a client that opened a connection and sends part of a
// request; closed reports when the server closed it.
type slowConn struct {
	net.Conn
	closed chan time.Time
}

func dialSlow(t *testing.T, addr, partial string) *slowConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := io.WriteString(c, partial); err != nil {
		t.Fatal(err)
	}
	s := &slowConn{Conn: c, closed: make(chan time.Time, 1)}
	go func() {
		// The server may answer 408 before it closes; read to the end.
		_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
		_, err := io.Copy(io.Discard, c)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return // never closed: the awaiting test fails
		}
		s.closed <- time.Now()
	}()
	return s
}

// awaitClosed waits, up to limit, for the server to close c.
func (c *slowConn) awaitClosed(t *testing.T, what string, limit time.Duration) time.Time {
	t.Helper()
	select {
	case at := <-c.closed:
		return at
	case <-time.After(limit):
		t.Fatalf("%s: still open after %s", what, limit)
	}
	return time.Time{}
}

// TestDaemon_SlowClientsCannotHoldTheAPI opens real TCP connections that
// send their headers or their body a byte at a time, and one that stays
// idle after a request: a normal request is served while they hang, and
// the server closes each at its deadline. Once MaxConns connections hang,
// a new one is served only when the deadline has freed a slot.
func TestDaemon_SlowClientsCannotHoldTheAPI(t *testing.T) {
	limits := listener.HTTPLimits{
		ReadHeaderTimeout: 300 * time.Millisecond,
		ReadTimeout:       300 * time.Millisecond,
		IdleTimeout:       300 * time.Millisecond,
		MaxConns:          8,
	}
	d := daemon(t, schedulerd.Options{HTTP: limits})
	addr := d.HTTPAddrs()[0].String()
	const slowHeader = "GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Slow: "
	const slowBody = "POST /api/v1/schedules HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"
	const idle = "GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n"
	var slow []*slowConn
	for range 2 {
		slow = append(slow, dialSlow(t, addr, slowHeader), dialSlow(t, addr, slowBody), dialSlow(t, addr, idle))
	}

	hc := &http.Client{Timeout: 5 * time.Second}
	defer hc.CloseIdleConnections()
	resp, err := hc.Get("http://" + addr + "/api/v1/health")
	if err != nil {
		t.Fatalf("a normal request while %d clients hang: %v", len(slow), err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("health: %d", resp.StatusCode)
	}
	hc.CloseIdleConnections()
	for i, c := range slow {
		c.awaitClosed(t, []string{"slow header", "slow body", "idle"}[i%3], 10*time.Second)
	}

	// The cap: MaxConns hanging connections hold every slot; the next
	// request is answered only once a deadline closed one of them, which
	// is ReadTimeout after they were accepted at the earliest.
	filling := time.Now()
	var full []*slowConn
	for range limits.MaxConns {
		full = append(full, dialSlow(t, addr, slowBody))
	}
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, "GET /api/v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	r, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("a request past the cap: %v", err)
	}
	r.Body.Close()
	if waited := time.Since(filling); waited < limits.ReadTimeout {
		t.Errorf("the request past the cap of %d was answered after %s, before any deadline (%s) could free a slot", limits.MaxConns, waited, limits.ReadTimeout)
	}
	for _, f := range full {
		f.awaitClosed(t, "slow body at the cap", 10*time.Second)
	}
}

// TestDaemon_RunNowOutlivesReadTimeout runs a job longer than the body
// deadline through the blocking run_now: the deadline covers the body
// only, so the call still gets the handler's answer.
func TestDaemon_RunNowOutlivesReadTimeout(t *testing.T) {
	const readTimeout = 200 * time.Millisecond
	d := daemon(t, schedulerd.Options{HTTP: listener.HTTPLimits{ReadTimeout: readTimeout}})
	mux := handler.NewMux()
	mux.HandleFunc("nap", func(ctx context.Context, _ *handler.Job) (any, error) {
		select {
		case <-time.After(3 * readTimeout): // the job's own length: the point of the test
			return "rested", nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() {
		served <- handler.Serve(ctx, mux, handler.Options{Name: "napper", Endpoint: wiretest.IPC(t, "napper"),
			Scheduler: d.ZMQAddr(), Logger: slog.New(slog.DiscardHandler)})
	}()
	defer func() {
		cancel()
		if err := <-served; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("handler: %v", err)
		}
	}()
	c, err := client.New(httpBase(d), client.WithTimeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		hs, _ := c.Handlers(ctx)
		if slices.ContainsFunc(hs, func(h schedtype.HandlerStatus) bool { return h.ID == "napper" && h.Status == "online" }) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("handler napper not online after 10s")
		}
		time.Sleep(10 * time.Millisecond) // polling a condition with a deadline
	}
	code, _, _, msg := post(t, httpBase(d)+"/api/run_now", `{"handler_id":"napper","job_method":"nap","job_params":{}}`)
	if code != http.StatusOK {
		t.Logf("%d %s", code, msg)
		t.Errorf("run_now of a %s job with a %s body deadline: %d %s", 3*readTimeout, readTimeout, code, msg)
	}
}

// TestDaemon_WarnsOfOpenTCP checks the start-up warning of a TCP listener
// without an API token, and its absence where a token or a unix socket
// guards the API.
func TestDaemon_WarnsOfOpenTCP(t *testing.T) {
	tests := []struct {
		name   string
		listen func(dir string) []string
		tokens []string
		warn   bool
	}{
		{name: "tcp without token", listen: func(string) []string { return []string{"127.0.0.1:0"} }, warn: true},
		{name: "tcp with token", listen: func(string) []string { return []string{"127.0.0.1:0"} }, tokens: []string{"s3cret-token"}},
		{name: "unix without token", listen: func(dir string) []string { return []string{"unix:" + filepath.Join(dir, "api.sock")} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs := &logSink{}
			d := daemon(t, schedulerd.Options{HTTPListen: tt.listen(t.TempDir()), Tokens: tt.tokens, Logger: slog.New(logs)})
			warns := logs.find(slog.LevelWarn, "the API listens on TCP without a token")
			if !tt.warn {
				if len(warns) != 0 {
					t.Errorf("warnings %v, want none", warns)
				}
				return
			}
			if len(warns) != 1 || warns[0]["address"] != d.HTTPAddrs()[0].String() || !strings.Contains(warns[0]["fix"], "--api-token-file") {
				t.Errorf("warnings %v, want one naming address %s and --api-token-file", warns, d.HTTPAddrs()[0])
			}
		})
	}
}
