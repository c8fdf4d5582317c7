package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"

	"github.com/schedulezero/schedulezero/pkg/api"
)

// authed lets a request through when no tokens are configured or it
// carries a valid session cookie; otherwise it shows the login page: 401,
// except at / (the original's readiness probe, which must see 200 HTML).
func (s *server) authed(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.sessions.Enabled() || s.sessions.Valid(s.sessions.FromRequest(r)) {
			next.ServeHTTP(w, r)
			return
		}
		status := http.StatusUnauthorized
		if r.URL.Path == "/" {
			status = http.StatusOK
		}
		s.page(w, r, status, "login", loginView{Next: r.URL.RequestURI()})
	})
}

type loginView struct {
	Next  string
	Error string
}

func (s *server) loginPage(w http.ResponseWriter, r *http.Request) {
	next := safeNext(r.URL.Query().Get("next"))
	if !s.sessions.Enabled() || s.sessions.Valid(s.sessions.FromRequest(r)) {
		http.Redirect(w, r, next, http.StatusSeeOther) // nothing to log in to
		return
	}
	s.page(w, r, http.StatusOK, "login", loginView{Next: next})
}

// login takes the token typed once and answers with the session cookie:
// HttpOnly (no script reads it), SameSite=Strict (no other site's page
// sends it), Secure when the page came over TLS.
func (s *server) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	if !sameOrigin(r) {
		s.page(w, r, http.StatusForbidden, "error", errorView{Title: "Forbidden", Message: "the login form was sent from another site", Fix: "open the dashboard and log in from its own page"})
		return
	}
	next := safeNext(r.PostFormValue("next"))
	if !s.sessions.Enabled() {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	value, ok := s.sessions.Login(strings.TrimSpace(r.PostFormValue("token")))
	if !ok {
		s.page(w, r, http.StatusUnauthorized, "login", loginView{Next: next, Error: "that is not one of the scheduler's API tokens"})
		return
	}
	http.SetCookie(w, &http.Cookie{Name: api.SessionCookie, Value: value, Path: "/", HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (s *server) logout(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		http.Error(w, "cross-site request refused", http.StatusForbidden)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: api.SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// safeNext keeps a redirect after login on this site.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	return next
}

// csrfOf is the CSRF token the forms of r's page carry: the session's, or
// without tokens the process's own.
func (s *server) csrfOf(r *http.Request) string {
	if s.sessions.Enabled() {
		return s.sessions.CSRF(s.sessions.FromRequest(r))
	}
	return s.csrfKey
}

// checkForm refuses a state-changing request from another origin or
// without the page's CSRF token.
func (s *server) checkForm(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		want := s.csrfOf(r)
		got := r.PostFormValue("csrf")
		if !sameOrigin(r) || want == "" || !hmac.Equal([]byte(got), []byte(want)) {
			s.page(w, r, http.StatusForbidden, "error", errorView{Title: "Forbidden",
				Message: "this request did not come from the dashboard's own page (missing or wrong CSRF token, or another origin)",
				Fix:     "reload the page and use its buttons"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// sameOrigin reports whether a browser says r comes from a page of this
// host: the Origin header when sent, else Sec-Fetch-Site; a client that
// sends neither (not a browser) passes to the CSRF token check.
func sameOrigin(r *http.Request) bool {
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		return err == nil && u.Host == r.Host
	}
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
		return true
	}
	return false
}

func newCSRFKey() string {
	m := hmac.New(sha256.New, []byte(rand.Text()))
	m.Write([]byte("csrf"))
	return hex.EncodeToString(m.Sum(nil))
}
