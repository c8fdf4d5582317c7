package web_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/schedulezero/schedulezero/pkg/api"
	"github.com/schedulezero/schedulezero/pkg/api/apitest"
	"github.com/schedulezero/schedulezero/pkg/scheduler/schedtype"
	"github.com/schedulezero/schedulezero/pkg/store"
	"github.com/schedulezero/schedulezero/pkg/web"
)

type site struct {
	b   *apitest.Backend
	srv *httptest.Server
}

// newSite serves the API with the dashboard, as the daemon does.
func newSite(t *testing.T, tokens ...string) *site {
	t.Helper()
	b := apitest.NewBackend()
	b.AddHandler(schedtype.HandlerStatus{Handler: store.Handler{ID: "dingaling", Methods: []string{"ping"}, Status: "online"}})
	ctx := context.Background()
	for _, r := range []schedtype.ScheduleRequest{
		{ID: "ping", HandlerID: "dingaling", Method: "ping", Trigger: json.RawMessage(`{"type":"interval","seconds":30}`)},
		{ID: "from-file", HandlerID: "dingaling", Method: "ping", Trigger: json.RawMessage(`{"type":"interval","seconds":30}`), Source: "file:/etc/schedulezero/schedules/from-file.schedule"},
	} {
		if _, err := b.AddSchedule(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	ui := web.New(web.Options{Backend: b, Tokens: tokens, Events: b.Events})
	srv := httptest.NewServer(api.New(api.Options{Backend: b, Tokens: tokens, Events: b.Events, UI: ui}))
	t.Cleanup(srv.Close)
	return &site{b: b, srv: srv}
}

// answer is what do read of a response, whose body it closed.
type answer struct {
	StatusCode int
	Header     http.Header
	cookies    []*http.Cookie
}

func (a *answer) Cookies() []*http.Cookie { return a.cookies }

// do sends a request without following redirects.
func (s *site) do(t *testing.T, method, path string, form url.Values, header ...string) (*answer, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, s.srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return &answer{StatusCode: resp.StatusCode, Header: resp.Header, cookies: resp.Cookies()}, string(data)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)

func TestPages_RenderWithoutJavaScript(t *testing.T) {
	s := newSite(t)
	s.b.AddExecution(store.Execution{ID: "ex-1", Attempt: 1, MaxAttempts: 1, ScheduleID: "ping", HandlerID: "dingaling", Method: "ping",
		Status: store.StatusFailed, Error: "the handler said no", StartedAt: apitest.Epoch, Result: json.RawMessage(`{"stdout":"out line","stderr":"err line"}`)})
	for _, tt := range []struct {
		path   string
		status int
		want   []string
	}{
		{"/", 200, []string{"Overview", "active", "Recent failures", "the handler said no", `href="/api/health"`}},
		{"/schedules", 200, []string{"NEXT", "LEFT", "LAST RESULT", `href="/schedules/ping"`, "every 30s", "error"}},
		{"/schedules?q=file", 200, []string{"from-file"}},
		{"/schedules?state=all", 200, []string{"from-file", "ping", `<option value="all" selected>`}},
		{"/schedules/ping", 200, []string{"Schedule <span id=\"schedule-id\">ping</span>", "Next 10 fires", "action-pause", "action-run", "action-delete"}},
		{"/schedules/ping?confirm=delete", 200, []string{"Really <b>delete</b>", "confirm-yes"}},
		{"/schedules/ghost", 404, []string{"Not found"}},
		{"/executions?status=error", 200, []string{"ex-1", "the handler said no"}},
		{"/executions?status=weird", 400, []string{"is not a status"}},
		{"/executions?since=yesterday", 400, []string{"neither a duration nor a time"}},
		{"/executions/ex-1", 200, []string{`<pre class="stdout">out line</pre>`, `<pre class="stderr">err line</pre>`, "journalctl SZ_EXECUTION_ID=ex-1"}},
		{"/executions/nope", 404, []string{"no execution nope"}},
		{"/handlers", 200, []string{"dingaling", "online"}},
		{"/calendar?expr=Mon..Fri+09:00&tz=Europe/Berlin", 200, []string{"Mon..Fri *-*-* 09:00:00", "<time datetime="}},
		{"/calendar?expr=0+9+*+*+1-5&cron=1", 200, []string{"<time datetime="}},
		{"/calendar?expr=Mon..Fri+99:00", 200, []string{`id="cal-error"`}},
		{"/calendar?expr=daily&tz=Mars/Olympus", 200, []string{"not a known time zone"}},
		{"/nowhere", 404, []string{"no page /nowhere"}},
		{"/static/app.js", 200, []string{"EventSource"}},
	} {
		t.Run(tt.path, func(t *testing.T) {
			resp, body := s.do(t, "GET", tt.path, nil)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d:\n%s", resp.StatusCode, tt.status, body)
			}
			for _, w := range tt.want {
				if !strings.Contains(body, w) {
					t.Errorf("page lacks %q:\n%s", w, body)
				}
			}
			if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
				t.Errorf("Content-Security-Policy %q", csp)
			}
		})
	}
}

func TestLogin_CookieIsHttpOnlyStrictAndTheTokenIsNeeded(t *testing.T) {
	const token = "a-token-of-enough-length"
	s := newSite(t, token)
	if resp, body := s.do(t, "GET", "/schedules", nil); resp.StatusCode != 401 || !strings.Contains(body, `name="token"`) || strings.Contains(body, "ping") {
		t.Fatalf("GET /schedules without a session: %d\n%s", resp.StatusCode, body)
	}
	// The original's readiness probe: 200 HTML at /.
	if resp, body := s.do(t, "GET", "/", nil); resp.StatusCode != 200 || !strings.Contains(body, "ScheduleZero") {
		t.Fatalf("GET / without a session: %d", resp.StatusCode)
	}
	if resp, _ := s.do(t, "POST", "/login", url.Values{"token": {"wrong"}}); resp.StatusCode != 401 || len(resp.Cookies()) != 0 {
		t.Fatalf("a wrong token: %d, cookies %v", resp.StatusCode, resp.Cookies())
	}
	if resp, _ := s.do(t, "POST", "/login", url.Values{"token": {token}}, "Origin", "http://evil.example"); resp.StatusCode != 403 {
		t.Fatalf("a login from another site: %d, want 403", resp.StatusCode)
	}
	resp, _ := s.do(t, "POST", "/login", url.Values{"token": {token}, "next": {"//evil.example/x"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Fatalf("login: %d to %q, want 303 to / (never off the site)", resp.StatusCode, resp.Header.Get("Location"))
	}
	var c *http.Cookie
	for _, k := range resp.Cookies() {
		if k.Name == api.SessionCookie {
			c = k
		}
	}
	if c == nil || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Value == token || strings.Contains(c.Value, token) {
		t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Strict, not the token", c)
	}
	cookie := c.Name + "=" + c.Value
	if resp, body := s.do(t, "GET", "/schedules", nil, "Cookie", cookie); resp.StatusCode != 200 || !strings.Contains(body, "ping") {
		t.Fatalf("with the session: %d", resp.StatusCode)
	}
	// The cookie is no bearer token for the API's writes.
	if resp, _ := s.do(t, "DELETE", "/api/v1/schedules/ping", nil, "Cookie", cookie); resp.StatusCode != 401 {
		t.Fatalf("an API write with only the cookie: %d, want 401", resp.StatusCode)
	}
	// Another token list ends the session.
	other := httptest.NewServer(web.New(web.Options{Backend: s.b, Tokens: []string{"another-token-entirely"}}))
	defer other.Close()
	req, _ := http.NewRequest("GET", other.URL+"/schedules", nil)
	req.Header.Set("Cookie", cookie)
	if r2, err := http.DefaultClient.Do(req); err != nil || r2.StatusCode != 401 {
		t.Fatalf("the session against other tokens: %v %v, want 401", r2, err)
	} else {
		r2.Body.Close()
	}
}

func TestActions_ConfirmedSameOriginWithTheCSRFToken(t *testing.T) {
	const token = "a-token-of-enough-length"
	s := newSite(t, token)
	resp, _ := s.do(t, "POST", "/login", url.Values{"token": {token}})
	cookie := resp.Cookies()[0].Name + "=" + resp.Cookies()[0].Value
	_, page := s.do(t, "GET", "/schedules/ping", nil, "Cookie", cookie)
	m := csrfField.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token in the page:\n%s", page)
	}
	csrf := m[1]
	paused := func() bool {
		sc, err := s.b.GetSchedule(context.Background(), "ping")
		if err != nil {
			t.Fatal(err)
		}
		return sc.Paused
	}
	for _, tt := range []struct {
		name   string
		form   url.Values
		header []string
		status int
		paused bool
	}{
		{"no CSRF token", url.Values{"confirm": {"yes"}}, []string{"Cookie", cookie}, 403, false},
		{"a wrong CSRF token", url.Values{"confirm": {"yes"}, "csrf": {"00" + csrf[2:]}}, []string{"Cookie", cookie}, 403, false},
		{"another origin", url.Values{"confirm": {"yes"}, "csrf": {csrf}}, []string{"Cookie", cookie, "Origin", "http://evil.example"}, 403, false},
		{"a cross-site fetch", url.Values{"confirm": {"yes"}, "csrf": {csrf}}, []string{"Cookie", cookie, "Sec-Fetch-Site", "cross-site"}, 403, false},
		{"no session", url.Values{"confirm": {"yes"}, "csrf": {csrf}}, nil, 401, false},
		{"not confirmed", url.Values{"csrf": {csrf}}, []string{"Cookie", cookie}, 303, false},
		{"confirmed", url.Values{"confirm": {"yes"}, "csrf": {csrf}}, []string{"Cookie", cookie, "Origin", s.srv.URL}, 303, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := s.do(t, "POST", "/schedules/ping/pause", tt.form, tt.header...)
			if resp.StatusCode != tt.status || paused() != tt.paused {
				t.Fatalf("status %d (want %d), paused %v (want %v)\n%s", resp.StatusCode, tt.status, paused(), tt.paused, body)
			}
		})
	}
	// A schedule a file manages is deleted in its file, not here.
	resp, body := s.do(t, "POST", "/schedules/from-file/delete", url.Values{"confirm": {"yes"}, "csrf": {csrf}}, "Cookie", cookie)
	if resp.StatusCode != 409 || !strings.Contains(body, "from-file.schedule") {
		t.Fatalf("deleting a file's schedule: %d\n%s", resp.StatusCode, body)
	}
	resp, _ = s.do(t, "POST", "/schedules/ping/delete", url.Values{"confirm": {"yes"}, "csrf": {csrf}}, "Cookie", cookie)
	if _, err := s.b.GetSchedule(context.Background(), "ping"); resp.StatusCode != 303 || err == nil {
		t.Fatalf("delete: %d, schedule still there: %v", resp.StatusCode, err)
	}
}
