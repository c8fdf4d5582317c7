package wire

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

var requestSeeds = []string{
	`{"method":"quick_aling","params":{"n":1},"id":"1k","execution_id":"01JABCDEFGHJKMNPQRSTVWXYZ0","schedule_id":"nightly","attempt":1,"deadline_ms":1767225600000,"v":5,"job_token":"tok"}`,
	` {"method" : "a" , "params" : { "x" : [1, 2] } } `,
	`{"method":"a","params":null}`,
	`{"method":"a","params":[1]}`,
	`{"method":""}`,
	`{"method":"a","Method":"b"}`,
	`{"method":"a","id":"1","id":"2"}`,
	`{"method":"a","attempt":1.0}`,
	`{"method":"a","attempt":99999999999999999999}`,
	`{"method":"a","attempt":-0,"v":null}`,
	`{"method":"a\"b"}`,
	`{"method":"é"}`,
	`{"method":"a","extra":{"deep":[[[]]]},"other":"x"}`,
	`[{"method":"a","id":"1","v":3},{"method":"b","params":{"x":1},"id":"2"}]`,
	`[{"method":"a"},{"method":""}]`,
	`[{"method":"a"},null]`,
	`[]`, `[`, `{}`, `null`, ``, `{`, "\xff",
}

// The fast decoders take a request only when they decode it exactly as
// encoding/json does.
func FuzzDecodeRequestFast(f *testing.F) {
	for _, s := range requestSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if fast, ok := decodeRequestFast(b); ok {
			slow, err := decodeRequestSlow(b)
			if err != nil || !reflect.DeepEqual(fast, slow) {
				t.Fatalf("%q:\nfast %+v\nslow %+v (%v)", b, fast, slow, err)
			}
		}
		if fast, ok := decodeBatchFast(b); ok {
			slow, ok := decodeBatchSlow(b)
			if !ok || !reflect.DeepEqual(fast, slow) {
				t.Fatalf("batch %q:\nfast %+v\nslow %+v (%v)", b, fast, slow, ok)
			}
		}
	})
}

// The fast encoder writes exactly what json.Marshal writes, whenever it
// takes a request.
func FuzzEncodeRequest(f *testing.F) {
	f.Add("quick_aling", []byte(`{"n":1}`), "1k", "01JABCDEFGHJKMNPQRSTVWXYZ0", "nightly", 1, int64(1767225600000), 5, "tok")
	f.Add("a<b", []byte(`{ "n": 1 }`), "", "", "", 0, int64(0), 0, "")
	f.Add("é", []byte(`[1,"<"]`), "\"", "\\", "\n", -1, int64(-5), 3, "&")
	f.Add("a", []byte(`nul`), "", "", "", 0, int64(0), 0, "")
	f.Fuzz(func(t *testing.T, method string, params []byte, id, exec, sched string, attempt int, deadline int64, v int, token string) {
		req := Request{Method: method, Params: params, ID: id, ExecutionID: exec, ScheduleID: sched,
			Attempt: attempt, DeadlineMS: deadline, V: v, JobToken: token}
		fast, ok := appendRequest(nil, &req)
		if !ok {
			return
		}
		slow, err := json.Marshal(req)
		if err != nil || !bytes.Equal(fast, slow) {
			t.Fatalf("%+v:\nfast %s\nslow %s (%v)", req, fast, slow, err)
		}
	})
}

// The common request takes the fast paths (a fast path that takes
// nothing passes the fuzz tests too), with one allocation for its
// strings and one for its params.
func TestRequestFast_Takes(t *testing.T) {
	req := Request{Method: "quick_aling", Params: json.RawMessage(`{"n":1}`), ID: "1k", ExecutionID: "01JABCDEFGHJKMNPQRSTVWXYZ0",
		ScheduleID: "nightly", Attempt: 1, DeadlineMS: 1767225600000, V: ProtocolLatest, JobToken: NewJobToken()}
	b, ok := appendRequest(nil, &req)
	if !ok {
		t.Fatal("the common request was not encoded by the fast path")
	}
	frame := AppendBatch(nil, [][]byte{b, b, b})
	if _, ok := decodeBatchFast(frame); !ok {
		t.Fatal("a batch of common requests went to the slow path")
	}
	if allocs := testing.AllocsPerRun(50, func() { _, _ = decodeRequestFast(b) }); allocs > 2 {
		t.Errorf("decoding a request: %.0f allocations, want 2", allocs)
	}
	if allocs := testing.AllocsPerRun(50, func() { _, _ = encodeRequest(req) }); allocs > 1 {
		t.Errorf("encoding a request: %.0f allocations, want 1", allocs)
	}
}

// BenchmarkRequestFast measures a job request's encoding (the scheduler,
// per execution) and its decoding in a batch of MaxBatch (the handler),
// per request, by encoding/json and by the fast paths.
//
//	go test -run '^$' -bench BenchmarkRequestFast -count 6 ./pkg/wire
func BenchmarkRequestFast(b *testing.B) {
	req := Request{Method: "quick_aling", Params: json.RawMessage(`{"n":1}`), ID: "1k", ExecutionID: "01JABCDEFGHJKMNPQRSTVWXYZ0",
		ScheduleID: "nightly", Attempt: 1, DeadlineMS: 1767225600000, V: ProtocolLatest, JobToken: NewJobToken()}
	b.Run("encode/json", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			if _, err := json.Marshal(req); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encode/fast", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			if _, err := encodeRequest(req); err != nil {
				b.Fatal(err)
			}
		}
	})
	one, _ := json.Marshal(req)
	msgs := make([][]byte, MaxBatch)
	for i := range msgs {
		msgs[i] = one
	}
	frame := AppendBatch(nil, msgs)
	for _, tc := range []struct {
		name string
		fn   func([]byte) ([]Request, bool)
	}{{"decode/json", decodeBatchSlow}, {"decode/fast", decodeBatchFast}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for range b.N / MaxBatch {
				if _, ok := tc.fn(frame); !ok {
					b.Fatal("not a batch")
				}
			}
		})
	}
}
