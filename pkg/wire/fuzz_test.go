package wire

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
)

type fuzzRegistry struct{}

func (fuzzRegistry) Register(_ context.Context, r Registration) (bool, error) {
	return r.HandlerID == "again", nil
}

func (fuzzRegistry) ReportStatus(_ context.Context, id, _ string) error {
	if id != "known" {
		return fmt.Errorf("handler %q: %w", id, ErrUnknownHandler)
	}
	return nil
}
func (fuzzRegistry) Seen(string) {}

var seeds = []string{
	`{"method":"ping"}`,
	`{"method":"ping","params":{"handler_id":"a"}}`,
	`{"method":"register","params":{"handler_id":"again","address":"tcp://x:1","methods":["a"],"protocol":2}}`,
	`{"method":"register","params":{"handler_id":1}}`,
	`{"method":"report_status","params":{"handler_id":"known","status":"offline"}}`,
	`{"method":"report_status","params":[]}`,
	`{"method":"x","params":"s","id":"1","attempt":2,"deadline_ms":5,"v":2}`,
	`{"success":true,"id":"1","error":"e"}`,
	`{"success":"yes"}`, `[]`, `null`, ``, `{`, "\xff",
}

func FuzzDecodeRequest(f *testing.F) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeRequest(b)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		if r.Method == "" {
			t.Fatal("decoded a request without a method")
		}
		if _, err := json.Marshal(r); err != nil {
			t.Fatalf("re-encode: %v", err)
		}
	})
}

func FuzzDecodeReply(f *testing.F) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeReply(b)
		if err != nil {
			return
		}
		if !json.Valid(r.Raw) {
			t.Fatalf("Raw is not JSON: %q", r.Raw)
		}
	})
}

func FuzzRespond(f *testing.F) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		out := respond(context.Background(), fuzzRegistry{}, "inst", b)
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(out, &obj); err != nil {
			t.Fatalf("reply is not a JSON object: %q", out)
		}
		var ok bool
		if err := json.Unmarshal(obj["success"], &ok); err != nil {
			t.Fatalf("reply has no boolean success: %s", out)
		}
		if !ok {
			var e string
			if json.Unmarshal(obj["error"], &e) != nil || e == "" {
				t.Fatalf("failure without an error string: %s", out)
			}
		}
	})
}
