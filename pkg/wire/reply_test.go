package wire_test

import (
	"testing"

	"github.com/schedulezero/schedulezero/pkg/wire"
)

// The protocol's reply fields are decoded once, leniently: an extension
// of the wrong type is taken as absent, never as a bad reply.
func TestDecodeReply_Fields(t *testing.T) {
	f, tr := false, true
	for _, tc := range []struct {
		frame string
		want  wire.Reply
	}{
		{`{"success":true,"id":"a"}`, wire.Reply{Success: true, ID: "a"}},
		{`{"success":false,"error":"x","retry":false}`, wire.Reply{Error: "x", Retry: &f}},
		{`{"success":false,"retry":true,"timeout":true}`, wire.Reply{Retry: &tr, Timeout: true}},
		{`{"success":false,"retry":"no","timeout":true}`, wire.Reply{}},
		{`{"success":false,"not_run":true,"refused":true}`, wire.Reply{NotRun: true, Refused: true}},
		{`{"success":false,"not_run":1}`, wire.Reply{}},
		{string(wire.Closing), wire.Reply{Error: "handler closing: it read no request after its last reply", Closing: true}},
	} {
		got, err := wire.DecodeReply([]byte(tc.frame))
		if err != nil {
			t.Fatalf("DecodeReply(%s): %v", tc.frame, err)
		}
		got.Raw = nil
		if got.Success != tc.want.Success || got.Error != tc.want.Error || got.ID != tc.want.ID ||
			got.Timeout != tc.want.Timeout || got.NotRun != tc.want.NotRun || got.Refused != tc.want.Refused ||
			got.Closing != tc.want.Closing || (got.Retry == nil) != (tc.want.Retry == nil) ||
			(got.Retry != nil && *got.Retry != *tc.want.Retry) {
			t.Errorf("DecodeReply(%s) = %+v, want %+v", tc.frame, got, tc.want)
		}
		if got.Retries() != (tc.want.Retry == nil || *tc.want.Retry) {
			t.Errorf("Retries(%s) wrong", tc.frame)
		}
	}
}
