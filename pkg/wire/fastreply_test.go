package wire

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

var replySeeds = []string{
	`{"success":true,"id":"1k"}`,
	`{"success":true,"id":"1k","alings":1,"sound":"a-ling!"}`,
	` {"success" : false , "error":"boom","retry":false,"timeout":true} `,
	`{"success":false,"error":"quote \" inside","id":"2"}`,
	`{"success":false,"error":"é ü","not_run":true,"refused":true}`,
	`{"success":true,"result":{"a":[1,2.5e3,-0,true,null,{"b":"c"}]}}`,
	`{"success":true,"Success":false}`,
	`{"success":true,"success":false}`,
	`{"success":null}`,
	`{"success":"yes"}`,
	`{"error":"x"}`,
	`{"success":true,"id":7}`,
	`{"success":true,"retry":[true],"closing":1}`,
	`{"success":true}x`,
	`{"success":true,}`,
	`{"success":true,"a":01}`,
	`{"success":true,"a":"\u00e9\x"}`,
	`{"success":true,"\u0069d":"x"}`,
	"{\"success\":true,\"id\":\"\xff\"}",
	`[{"success":true,"id":"1"},{"success":false,"id":"2","error":"e"}]`,
	`[{"success":true,"id":"1"},1]`,
	`[]`, `[`, `{}`, `null`, ``, `{`, "\xff",
	string(Closing),
}

// The fast path takes a reply only when it decodes it exactly as the
// encoding/json path does: same fields, same Raw.
func FuzzDecodeReplyFast(f *testing.F) {
	for _, s := range replySeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fast, ok := decodeReplyFast(b)
		if !ok {
			return
		}
		slow, err := decodeReplySlow(b)
		if err != nil {
			t.Fatalf("fast path took %q, encoding/json refuses it: %v", b, err)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("%q:\nfast %+v\nslow %+v", b, fast, slow)
		}
	})
}

// Whatever one-pass frame decoding takes, SplitBatch and DecodeReply
// take too, with the same replies.
func FuzzDecodeRepliesFast(f *testing.F) {
	for _, s := range replySeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fast, ok := decodeRepliesFast(b, nil)
		if !ok {
			return
		}
		elems, err := SplitBatch(b)
		if err != nil || len(elems) != len(fast) {
			t.Fatalf("%q: %d replies in one pass, SplitBatch %d (%v)", b, len(fast), len(elems), err)
		}
		for i, e := range elems {
			slow, err := decodeReplySlow(e)
			if err != nil || !reflect.DeepEqual(fast[i], slow) {
				t.Fatalf("%q element %d:\nfast %+v\nslow %+v (%v)", b, i, fast[i], slow, err)
			}
		}
	})
}

// The seeds that are not of the common shape must go to the slow path,
// and those that are must not: a fast path that takes nothing passes the
// fuzz tests too.
func TestDecodeReplyFast_Takes(t *testing.T) {
	for _, tc := range []struct {
		frame string
		fast  bool
	}{
		{`{"success":true,"id":"1k"}`, true},
		{` {"success" : false , "error":"boom","retry":false,"timeout":true} `, true},
		{`{"success":false,"error":"é ü","not_run":true,"refused":true}`, true},
		{`{"success":true,"result":{"a":[1,2.5e3,-0,true,null,{"b":"c"}]}}`, true},
		{`{"success":false,"error":"quote \" inside","id":"2"}`, false},
		{`{"success":true,"Success":false}`, false},
		{`{"success":true,"success":false}`, false},
		{`{"success":null}`, false},
		{`{"success":true}x`, false},
		{"{\"success\":true,\"id\":\"\xff\"}", false},
	} {
		if _, ok := decodeReplyFast([]byte(tc.frame)); ok != tc.fast {
			t.Errorf("decodeReplyFast(%s): fast %v, want %v", tc.frame, ok, tc.fast)
		}
	}
	if _, ok := decodeRepliesFast([]byte(`[{"success":true,"id":"1"},{"success":false,"id":"2","error":"e"}]`), nil); !ok {
		t.Error("a batch of plain replies went to the slow path")
	}
}

// A batch of replies is decoded with one allocation per reply (its id)
// and none for the frame: no copy of each element, no reflection.
func TestDecodeReplies_Allocs(t *testing.T) {
	msgs := make([][]byte, MaxBatch)
	for i := range msgs {
		msgs[i], _ = json.Marshal(map[string]any{"success": true, "id": "k" + string(rune('a'+i%26)), "alings": 1, "sound": "a-ling!"})
	}
	frame := AppendBatch(nil, msgs)
	dst := make([]Reply, 0, MaxBatch)
	allocs := testing.AllocsPerRun(20, func() {
		out, ok := decodeRepliesFast(frame, dst[:0])
		if !ok || len(out) != MaxBatch || !bytes.Equal(out[3].Raw, msgs[3]) {
			t.Fatal("batch not decoded")
		}
	})
	if allocs > MaxBatch {
		t.Errorf("%.0f allocations for a batch of %d replies, want at most one each", allocs, MaxBatch)
	}
}

// BenchmarkReplyDecode measures what the scheduler's reader spends per
// reply on a batch frame of MaxBatch replies: "split+decode" is the
// element-by-element path by encoding/json (SplitBatch, then
// decodeReplySlow each), "one-pass" the one it takes now.
//
//	go test -run '^$' -bench BenchmarkReplyDecode -count 6 ./pkg/wire
func BenchmarkReplyDecode(b *testing.B) {
	msgs := make([][]byte, MaxBatch)
	for i := range msgs {
		msgs[i] = []byte(`{"success":true,"id":"` + string(rune('a'+i%26)) + `k","alings":1,"sound":"a-ling!"}`)
	}
	frame := AppendBatch(nil, msgs)
	b.Run("split+decode", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N / MaxBatch {
			elems, err := SplitBatch(frame)
			if err != nil {
				b.Fatal(err)
			}
			for _, e := range elems {
				if _, err := decodeReplySlow(e); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("one-pass", func(b *testing.B) {
		b.ReportAllocs()
		dst := make([]Reply, 0, MaxBatch)
		for range b.N / MaxBatch {
			if _, ok := decodeRepliesFast(frame, dst[:0]); !ok {
				b.Fatal("slow path")
			}
		}
	})
}
