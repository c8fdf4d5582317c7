package handler

import "testing"

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
