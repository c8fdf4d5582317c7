package handlername_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/schedulezero/schedulezero/pkg/field"
	"github.com/schedulezero/schedulezero/pkg/handlername"
)

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"ding-aling", true},
		{"dingaling2", true},
		{"a:b_c.d-e", true},
		{"9lives", true},
		{strings.Repeat("a", handlername.MaxLen), true},
		{"", false},
		{strings.Repeat("a", handlername.MaxLen+1), false},
		{"../../etc/passwd", false},
		{".hidden", false},
		{"-flag", false},
		{"_x", false},
		{"a/b", false},
		{"a@b", false},
		{"a b", false},
		{"a\x1b[2J", false},
		{"é", false},
		{"a\\x2d", false},
	} {
		err := handlername.Check(tc.name)
		if (err == nil) != tc.ok {
			t.Errorf("Check(%q) = %v, want ok=%v", tc.name, err, tc.ok)
		}
		var fe *field.Error
		if err != nil && (!errors.As(field.Prefix("name", err), &fe) || fe.Field != "name" || fe.Fix == "") {
			t.Errorf("Check(%q) = %#v, want a *field.Error with a fix", tc.name, err)
		}
	}
}

func TestCheckEndpoint(t *testing.T) {
	for _, tc := range []struct {
		endpoint string
		dial     bool // CheckEndpoint accepts it
		bind     bool // CheckBind(endpoint, false) accepts it
		public   bool // CheckBind(endpoint, true) accepts it
	}{
		{"tcp://127.0.0.1:4247", true, true, true},
		{"tcp://localhost:4247", true, true, true},
		{"tcp://[::1]:4247", true, true, true},
		{"tcp://127.0.0.1:0", false, true, true},
		{"tcp://handler-1.example.org:4247", true, false, true},
		{"tcp://10.0.0.5:4247", true, false, true},
		{"tcp://0.0.0.0:1", false, false, true},
		{"tcp://[::]:1", false, false, true},
		{"tcp://*:4247", false, false, true},
		{"ipc:///run/schedulezero/handler-a.sock", true, true, true},
		{"garbage:///x", false, false, false},
		{"tcp://127.0.0.1", false, false, false},
		{"tcp://127.0.0.1:65536", false, false, false},
		{"tcp://127.0.0.1:-1", false, false, false},
		{"tcp://127.0.0.1:+80", false, false, false},
		{"tcp://127.0.0.1:080", false, false, false},
		{"tcp://bad_host:80", false, false, false},
		{"tcp://-x:80", false, false, false},
		{"tcp://:80", false, false, false},
		{"ipc://relative.sock", false, false, false},
		{"ipc://@abstract", false, false, false},
		{"ipc:///run/../etc/x.sock", false, false, false},
		{"ipc:///" + strings.Repeat("a", 120), false, false, false},
		{"inproc://x", false, false, false},
		{"", false, false, false},
	} {
		if err := handlername.CheckEndpoint(tc.endpoint); (err == nil) != tc.dial {
			t.Errorf("CheckEndpoint(%q) = %v, want ok=%v", tc.endpoint, err, tc.dial)
		}
		if err := handlername.CheckBind(tc.endpoint, false); (err == nil) != tc.bind {
			t.Errorf("CheckBind(%q, false) = %v, want ok=%v", tc.endpoint, err, tc.bind)
		}
		if err := handlername.CheckBind(tc.endpoint, true); (err == nil) != tc.public {
			t.Errorf("CheckBind(%q, true) = %v, want ok=%v", tc.endpoint, err, tc.public)
		}
	}
}

// An embedded handler's address is refused as a registration or bind
// address, with the reason: only the scheduler registers one.
func TestCheckEndpointEmbedded(t *testing.T) {
	addr := handlername.EmbeddedAddress("dingaling")
	if addr != "inproc://dingaling" || !handlername.IsEmbedded(addr) {
		t.Fatalf("EmbeddedAddress = %q, IsEmbedded %v", addr, handlername.IsEmbedded(addr))
	}
	for _, check := range []func(string) error{
		handlername.CheckEndpoint,
		func(e string) error { return handlername.CheckBind(e, true) },
	} {
		if err := check(addr); err == nil || !strings.Contains(err.Error(), "--embed") {
			t.Errorf("check(%q) = %v, want a refusal naming --embed", addr, err)
		}
	}
	if handlername.IsEmbedded("ipc:///run/x.sock") {
		t.Error("IsEmbedded(ipc://) = true")
	}
}
