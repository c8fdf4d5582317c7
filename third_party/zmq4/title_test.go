package zmq4

import "testing"

// toTitle gives the ZMTP property names the case x/text's
// cases.Title(language.Und, cases.NoLower) gave them.
func TestToTitle(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"socket-type", "Socket-Type"},
		{"Socket-Type", "Socket-Type"},
		{"identity", "Identity"},
		{"user-id", "User-Id"},
		{"x-hello world", "X-Hello World"},
		{"mIxed", "MIxed"},
		{"a1b-2c", "A1b-2C"},
		{"snake_case", "Snake_case"},
		{"", ""},
		{"é-x", "é-X"}, // x/text: "É-X"; ZMTP names are ASCII
	} {
		if got := toTitle(tc.in); got != tc.want {
			t.Errorf("toTitle(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
