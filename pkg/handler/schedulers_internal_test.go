package handler

import (
	"reflect"
	"testing"
)

func TestSplitEndpoints(t *testing.T) {
	for _, tc := range []struct {
		spec string
		want []string
	}{
		{"tcp://h1:4242", []string{"tcp://h1:4242"}},
		{"tcp://h1:4242,tcp://h2:4242, tcp://h3:4242", []string{"tcp://h1:4242", "tcp://h2:4242", "tcp://h3:4242"}},
		// A comma inside an ipc:// path is the path's.
		{"ipc:///tmp/a, b/s.sock", []string{"ipc:///tmp/a, b/s.sock"}},
		{"ipc:///tmp/a,b.sock,tcp://h2:4242", []string{"ipc:///tmp/a,b.sock", "tcp://h2:4242"}},
		{"tcp://h1:4242, ,", []string{"tcp://h1:4242"}},
	} {
		if got := splitEndpoints(tc.spec); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("splitEndpoints(%q) = %q, want %q", tc.spec, got, tc.want)
		}
	}
}
