package web_test

import (
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/api"
	"github.com/schedulezero/schedulezero/pkg/api/apitest"
	gclient "github.com/schedulezero/schedulezero/pkg/governor/client"
	"github.com/schedulezero/schedulezero/pkg/scheduler/schedtype"
	"github.com/schedulezero/schedulezero/pkg/store"
	"github.com/schedulezero/schedulezero/pkg/web"
)

// stalledSocket is a unix socket that accepts connections and never
// answers, as a governor whose loop hangs does; it closes them at the
// test's end. accepted receives a value for each connection.
func stalledSocket(t *testing.T) (path string, accepted <-chan struct{}) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "stalled.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
		wg    sync.WaitGroup
		acc   = make(chan struct{}, 16)
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			select {
			case acc <- struct{}{}:
			default:
			}
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return path, acc
}

// governorSite serves the dashboard with a governor client of addr ("":
// none configured).
func governorSite(t *testing.T, addr string) *site {
	t.Helper()
	b := apitest.NewBackend()
	b.AddHandler(schedtype.HandlerStatus{Handler: store.Handler{ID: "dingaling", Methods: []string{"ping"}, Status: "online"}})
	opts := web.Options{Backend: b, Events: b.Events}
	if addr != "" {
		gc, err := gclient.New(addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(gc.Close)
		opts.Governor = gc
	}
	srv := httptest.NewServer(api.New(api.Options{Backend: b, Events: b.Events, UI: web.New(opts)}))
	t.Cleanup(srv.Close)
	return &site{b: b, srv: srv}
}

// TestHandlers_GovernorDownOrStalledStillGivesThePage: a governor that is
// not configured, not running or hung costs the Handlers page at most
// its short deadline, and the page says why it shows no units.
func TestHandlers_GovernorDownOrStalledStillGivesThePage(t *testing.T) {
	stalled, _ := stalledSocket(t)
	for _, tt := range []struct {
		name, addr string
		want       string
	}{
		{"not configured", "", `id="governor-none"`},
		{"down", "unix:" + filepath.Join(t.TempDir(), "nobody.sock"), "governor not reachable: "},
		{"stalled", "unix:" + stalled, "governor not reachable: "},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := governorSite(t, tt.addr)
			t0 := time.Now()
			resp, body := s.do(t, "GET", "/handlers", nil)
			took := time.Since(t0)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d:\n%s", resp.StatusCode, body)
			}
			if took > 3*time.Second {
				t.Errorf("the page took %s: the governor's deadline is 2s", took)
			}
			for _, w := range []string{tt.want, `tr data-handler="dingaling"`} {
				if !strings.Contains(body, w) {
					t.Errorf("page lacks %q:\n%s", w, body)
				}
			}
		})
	}
}

// TestHandlers_StalledGovernorDelaysNoOtherPage: the Handlers page waits
// for the governor outside the pages' turn to read the engine.
func TestHandlers_StalledGovernorDelaysNoOtherPage(t *testing.T) {
	stalled, accepted := stalledSocket(t)
	s := governorSite(t, "unix:"+stalled)
	done := make(chan error, 1)
	go func() {
		resp, err := http.Get(s.srv.URL + "/handlers")
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	select {
	case <-accepted: // the Handlers page now waits for the governor
	case <-time.After(5 * time.Second):
		t.Fatal("the Handlers page never asked the governor")
	}
	t0 := time.Now()
	resp, body := s.do(t, "GET", "/executions", nil)
	if took := time.Since(t0); resp.StatusCode != http.StatusOK || took > time.Second {
		t.Errorf("the executions page took %s (status %d) while the governor stalls:\n%s", took, resp.StatusCode, body)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestHandlers_PoolInstancesUnderTheirName: each instance of a pool has a
// row under its handler's (host, address, in flight, latency, error rate).
func TestHandlers_PoolInstancesUnderTheirName(t *testing.T) {
	s := governorSite(t, "")
	s.b.AddHandler(schedtype.HandlerStatus{Handler: store.Handler{ID: "report", Methods: []string{"build"}, Status: "online"},
		Instances: []schedtype.InstanceStatus{
			{ID: "a1", Host: "web-1", Address: "tcp://10.0.0.1:5000", Status: "online", Healthy: true, InFlight: 3, Limit: 4, LatencyMS: 12.5, ErrorRate: 0.25,
				Labels: map[string]string{"zone": "east"}},
			{ID: "b2", Host: "web-2", Address: "tcp://10.0.0.2:5000", Status: "online", Healthy: false, LatencyMS: 1500},
		}})
	_, body := s.do(t, "GET", "/handlers", nil)
	first, second := rowOf(t, body, `data-instance="report/a1"`), rowOf(t, body, `data-instance="report/b2"`)
	for _, w := range []string{"a1 on web-1", "tcp://10.0.0.1:5000", "<td>3</td>", "<td>4</td>", "12.5ms", "25.0%", "zone=east"} {
		if !strings.Contains(first, w) {
			t.Errorf("the first instance's row lacks %q:\n%s", w, first)
		}
	}
	for _, w := range []string{"b2 on web-2", "tcp://10.0.0.2:5000", "1.50s", "routed around"} {
		if !strings.Contains(second, w) {
			t.Errorf("the second instance's row lacks %q:\n%s", w, second)
		}
	}
	if i, j, k := strings.Index(body, `data-handler="report"`), strings.Index(body, `report/a1`), strings.Index(body, `report/b2`); i < 0 || i > j || j > k {
		t.Errorf("the instances are not under their handler, in order:\n%s", body)
	}
}

// rowOf is the table row of body holding attr.
func rowOf(t *testing.T, body, attr string) string {
	t.Helper()
	i := strings.Index(body, attr)
	if i < 0 {
		t.Fatalf("no row %s:\n%s", attr, body)
	}
	row, _, _ := strings.Cut(body[i:], "</tr>")
	return row
}

// TestHandlers_RestartIsConfirmedAndNeedsTheCSRFToken: a restart from
// another origin or without the page's token is refused; an unconfirmed
// one asks to confirm it; without a governor it says none is configured.
func TestHandlers_RestartIsConfirmedAndNeedsTheCSRFToken(t *testing.T) {
	s := governorSite(t, "")
	_, page := s.do(t, "GET", "/handlers?confirm=restart&name=dingaling", nil)
	m := csrfField.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("the confirmation has no CSRF field:\n%s", page)
	}
	csrf := m[1]
	for _, tt := range []struct {
		name   string
		form   url.Values
		header []string
		status int
		want   string
	}{
		{"no token", url.Values{"confirm": {"yes"}}, nil, http.StatusForbidden, "CSRF"},
		{"another origin", url.Values{"confirm": {"yes"}, "csrf": {csrf}}, []string{"Origin", "https://evil.example"}, http.StatusForbidden, "CSRF"},
		{"unconfirmed", url.Values{"csrf": {csrf}}, nil, http.StatusSeeOther, ""},
		{"no governor", url.Values{"confirm": {"yes"}, "csrf": {csrf}}, nil, http.StatusConflict, "no governor is configured"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := s.do(t, "POST", "/handlers/dingaling/restart", tt.form, tt.header...)
			if resp.StatusCode != tt.status || !strings.Contains(body, tt.want) {
				t.Fatalf("status %d, want %d with %q:\n%s", resp.StatusCode, tt.status, tt.want, body)
			}
			if tt.status == http.StatusSeeOther {
				loc := resp.Header.Get("Location")
				_, confirm := s.do(t, "GET", loc, nil)
				if !strings.Contains(confirm, "Really <b>restart</b> handler <b>dingaling</b>") || !strings.Contains(confirm, `id="confirm-yes"`) {
					t.Errorf("%s does not ask to confirm:\n%s", loc, confirm)
				}
			}
		})
	}
}
