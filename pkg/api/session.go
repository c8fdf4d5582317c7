package api

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"strings"
)

// SessionCookie is the cookie a browser that logged in to the dashboard
// with a token sends instead of the bearer token.
const SessionCookie = "sz_session"

// Sessions turn an API token typed once into a browser's session cookie,
// and back. A session is a random nonce with an HMAC of it keyed by the
// token: the cookie is not the token (it cannot be sent as a bearer
// token), the scheduler keeps no state for it, and changing the tokens
// ends every session. Each session has its own CSRF token, an HMAC of its
// nonce under another label.
type Sessions struct {
	tokens [][]byte
}

// NewSessions returns the sessions of the given API tokens; none: every
// request is let in (Enabled is false).
func NewSessions(tokens []string) *Sessions {
	s := &Sessions{}
	for _, t := range tokens {
		s.tokens = append(s.tokens, []byte(t))
	}
	return s
}

// Enabled reports whether tokens are configured.
func (s *Sessions) Enabled() bool { return len(s.tokens) > 0 }

// CheckToken reports whether token is one of the configured tokens.
func (s *Sessions) CheckToken(token string) bool {
	match := 0
	for _, t := range s.tokens {
		match |= subtle.ConstantTimeCompare([]byte(token), t)
	}
	return match == 1
}

// Login returns a new session cookie value for token, or false when the
// token is not one of the configured ones.
func (s *Sessions) Login(token string) (string, bool) {
	if !s.CheckToken(token) {
		return "", false
	}
	nonce := rand.Text()
	return nonce + "." + mac([]byte(token), "session:"+nonce), true
}

// Valid reports whether value is a session cookie made by Login with one
// of the configured tokens.
func (s *Sessions) Valid(value string) bool {
	_, ok := s.key(value)
	return ok
}

// key returns the token that signed session value.
func (s *Sessions) key(value string) ([]byte, bool) {
	nonce, sig, ok := strings.Cut(value, ".")
	if !ok || nonce == "" {
		return nil, false
	}
	for _, t := range s.tokens {
		if hmac.Equal([]byte(sig), []byte(mac(t, "session:"+nonce))) {
			return t, true
		}
	}
	return nil, false
}

// CSRF returns the CSRF token of session value ("" for an invalid one).
func (s *Sessions) CSRF(value string) string {
	t, ok := s.key(value)
	if !ok {
		return ""
	}
	nonce, _, _ := strings.Cut(value, ".")
	return mac(t, "csrf:"+nonce)
}

// CheckCSRF reports whether csrf is the CSRF token of session value.
func (s *Sessions) CheckCSRF(value, csrf string) bool {
	want := s.CSRF(value)
	return want != "" && hmac.Equal([]byte(csrf), []byte(want))
}

// FromRequest returns the request's session cookie value, "" when none.
func (s *Sessions) FromRequest(r *http.Request) string {
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		return ""
	}
	return c.Value
}

func mac(key []byte, msg string) string {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(msg))
	return hex.EncodeToString(h.Sum(nil))
}
