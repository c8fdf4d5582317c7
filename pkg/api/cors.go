package api

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// cors answers cross-origin requests from an allow-list of origins.
//
// The original sent "Access-Control-Allow-Origin: *" on an API without
// authentication: any web page a user opened could create and run jobs on
// their scheduler. So no origin is allowed unless configured, and then
// only those named ("*" allows any, for those who want the original's
// behaviour, and should then set tokens).
type cors struct {
	origins []string
}

// corsMethods and corsHeaders are what a preflight allows.
const (
	corsMethods = "GET, POST, PATCH, DELETE, OPTIONS"
	corsHeaders = "Authorization, Content-Type"
	corsMaxAge  = "600"
)

func (c cors) allowed(origin string) bool {
	return origin != "" && (slices.Contains(c.origins, origin) || slices.Contains(c.origins, "*"))
}

// handle sets the CORS headers of an allowed origin's request and reports
// whether it was a preflight, now answered.
func (c cors) handle(w http.ResponseWriter, r *http.Request) (answered bool) {
	if len(c.origins) == 0 {
		return false
	}
	w.Header().Add("Vary", "Origin") // the answer depends on it, for caches
	origin := r.Header.Get("Origin")
	if !c.allowed(origin) {
		return false
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", origin)
	if r.Method != http.MethodOptions || r.Header.Get("Access-Control-Request-Method") == "" {
		return false
	}
	h.Add("Vary", "Access-Control-Request-Method")
	h.Add("Vary", "Access-Control-Request-Headers")
	h.Set("Access-Control-Allow-Methods", corsMethods)
	h.Set("Access-Control-Allow-Headers", corsHeaders)
	h.Set("Access-Control-Max-Age", corsMaxAge)
	w.WriteHeader(http.StatusNoContent)
	return true
}

// ParseOrigins checks an allow-list of origins as a user wrote it (repeated
// or comma-separated): each is "*" or scheme://host[:port], as a browser
// sends it in the Origin header.
func ParseOrigins(in []string) ([]string, error) {
	out := splitOrigins(in)
	for _, o := range out {
		if o == "*" {
			continue
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.User != nil {
			return nil, fmt.Errorf("origin %q is not scheme://host[:port]; write it as the browser sends it, e.g. https://dashboard.example.com or http://localhost:3000", o)
		}
	}
	return out, nil
}

// splitOrigins accepts repeated and comma-separated origins and drops
// trailing slashes, which browsers never send.
func splitOrigins(in []string) []string {
	var out []string
	for _, v := range in {
		for _, o := range strings.Split(v, ",") {
			if o = strings.TrimRight(strings.TrimSpace(o), "/"); o != "" && !slices.Contains(out, o) {
				out = append(out, o)
			}
		}
	}
	return out
}
