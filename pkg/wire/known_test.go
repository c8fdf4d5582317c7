package wire_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/schedulezero/schedulezero/pkg/wire"
)

// A handler's answer to sz.known decodes to its three states; anything
// else (a failure, an unknown state, a stored reply that is not one) is a
// protocol error naming what is wrong, so that recovery retries by policy
// rather than trusting it.
func TestDecodeKnown(t *testing.T) {
	for _, tc := range []struct {
		name, raw, state, wantErr string
		stored                    bool
	}{
		{"finished", `{"success":true,"state":"finished","reply":{"success":true,"n":1}}`, wire.KnownFinished, "", true},
		{"running", `{"success":true,"state":"running"}`, wire.KnownRunning, "", false},
		{"unknown", `{"success":true,"state":"unknown"}`, wire.KnownUnknown, "", false},
		{"failure", `{"success":false,"error":"Unknown method: sz.known"}`, "", "Unknown method", false},
		{"bad state", `{"success":true,"state":"maybe"}`, "", `state "maybe"`, false},
		{"finished without a reply", `{"success":true,"state":"finished"}`, "", "stored", false},
		{"stored reply not an object", `{"success":true,"state":"finished","reply":[1]}`, "", "stored", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := wire.DecodeReply([]byte(tc.raw))
			if err != nil {
				t.Fatal(err)
			}
			k, err := wire.DecodeKnown(r)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("DecodeKnown(%s) = %+v, %v; want an error saying %q", tc.raw, k, err, tc.wantErr)
				}
				return
			}
			if err != nil || k.State != tc.state || (tc.stored && !k.Reply.Success) {
				t.Fatalf("DecodeKnown(%s) = %+v, %v", tc.raw, k, err)
			}
		})
	}
	req := wire.KnownRequest("01J", 2)
	var p struct {
		ExecutionID string `json:"execution_id"`
		Attempt     int    `json:"attempt"`
	}
	if err := json.Unmarshal(req.Params, &p); err != nil || req.Method != wire.MethodKnown || p.ExecutionID != "01J" || p.Attempt != 2 {
		t.Fatalf("KnownRequest: %+v %v", req, err)
	}
	if _, err := wire.DecodeKnown(wire.Reply{Success: false, Error: "x"}); !errors.Is(err, wire.ErrProtocol) {
		t.Fatalf("a failed answer: %v, want wire.ErrProtocol", err)
	}
}
