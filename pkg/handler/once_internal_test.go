package handler

import (
	"encoding/json"
	"testing"
)

func TestWithID(t *testing.T) {
	for _, tc := range []struct{ reply, id, want string }{
		{`{"success":true}`, "7", `{"id":"7","success":true}`},
		{`{"success":true}`, "", `{"success":true}`},
		{`{"error":"x","id":"user","success":false}`, "7", `{"error":"x","id":"7","success":false}`},
	} {
		if got := string(withID([]byte(tc.reply), tc.id)); got != tc.want {
			t.Errorf("withID(%s, %q) = %s, want %s", tc.reply, tc.id, got, tc.want)
		}
	}
}

// quote writes what json.Marshal writes, plain ids without reflection.
func TestQuote(t *testing.T) {
	for _, s := range []string{"", "1k", "a\"b", `a\b`, "<&>", "é", "\n", "\u2028", "\xff", "~ !"} {
		want, _ := json.Marshal(s)
		if got, err := quote(s); err != nil || string(got) != string(want) {
			t.Errorf("quote(%q) = %s, %v; want %s", s, got, err, want)
		}
	}
}
