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

// fuzzAuthRegistry also checks secrets: "locked" has one.
type fuzzAuthRegistry struct{ fuzzRegistry }

var fuzzSecrets, _ = NewHandlerSecrets(map[string]string{"locked": "locked-secret-0123456789"}, false)

func (fuzzAuthRegistry) Authenticate(id, secret string) error { return fuzzSecrets.Check(id, secret) }

var seeds = []string{
	`{"method":"ping"}`,
	`{"method":"ping","params":{"handler_id":"a"}}`,
	`{"method":"register","params":{"handler_id":"again","address":"tcp://x:1","methods":["a"],"protocol":2}}`,
	`{"method":"register","params":{"handler_id":1}}`,
	`{"method":"report_status","params":{"handler_id":"known","status":"offline"}}`,
	`{"method":"report_status","params":[]}`,
	`{"method":"register","params":{"handler_id":"locked","address":"tcp://x:1","secret":"locked-secret-0123456789"}}`,
	`{"method":"register","params":{"handler_id":"locked","address":"tcp://x:1","secret":7}}`,
	`{"method":"ping","params":{"handler_id":"locked","secret":"no"}}`,
	`{"method":"report_status","params":{"handler_id":"locked","status":"offline","secret":""}}`,
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
		for _, reg := range []Registry{fuzzRegistry{}, fuzzAuthRegistry{}} {
			out := respond(context.Background(), reg, "inst", b)
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
			if _, auth := reg.(Authenticator); auth && ok && lockedWithoutSecret(b) {
				t.Fatalf("locked handler accepted without its secret: %s -> %s", b, out)
			}
		}
	})
}

// lockedWithoutSecret says whether b is a request naming handler "locked"
// without its secret, decoded as the server decodes it.
func lockedWithoutSecret(b []byte) bool {
	req, err := DecodeRequest(b)
	if err != nil {
		return false
	}
	var p struct {
		HandlerID *string `json:"handler_id"`
		Secret    string  `json:"secret"`
	}
	if json.Unmarshal(req.Params, &p) != nil || p.HandlerID == nil || *p.HandlerID != "locked" {
		return false
	}
	switch req.Method {
	case "register", "ping", "report_status":
		return p.Secret != "locked-secret-0123456789"
	}
	return false
}

// FuzzBatch holds the one-pass batch decoder to the element-by-element
// path it stands in for: whatever DecodeBatch accepts, SplitBatch and
// DecodeRequest accept too, with the same requests.
func FuzzBatch(f *testing.F) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Add([]byte(`[{"method":"a","id":"1","v":3},{"method":"b","params":{"x":1},"id":"2"}]`))
	f.Add([]byte(`[{"method":"a"},{"method":""}]`))
	f.Add([]byte(`[{"method":"a","params":null},{"method":"b","params":[1]}]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		elems, splitErr := SplitBatch(b)
		reqs, ok := DecodeBatch(b)
		if !ok {
			return
		}
		if splitErr != nil || len(elems) != len(reqs) {
			t.Fatalf("DecodeBatch took %d requests, SplitBatch %d (%v)", len(reqs), len(elems), splitErr)
		}
		for i, e := range elems {
			r, err := DecodeRequest(e)
			if err != nil {
				t.Fatalf("element %d: DecodeBatch accepted what DecodeRequest refuses: %v", i, err)
			}
			if r.Method != reqs[i].Method || r.ID != reqs[i].ID || string(r.Params) != string(reqs[i].Params) {
				t.Fatalf("element %d: %+v one by one, %+v in one pass", i, r, reqs[i])
			}
		}
	})
}
