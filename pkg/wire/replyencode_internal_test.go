package wire

import (
	"encoding/json"
	"reflect"
	"testing"
)

// slowReply is SuccessReply without its fast path.
func slowReply(id string, result any) map[string]any {
	m := map[string]any{}
	b, _ := json.Marshal(result)
	var obj map[string]json.RawMessage
	if b[0] == '{' && json.Unmarshal(b, &obj) == nil {
		for k, v := range obj {
			m[k] = v
		}
	} else {
		m["result"] = json.RawMessage(b)
	}
	m["success"] = true
	delete(m, "error")
	if id != "" {
		m["id"] = id
	}
	out, _ := json.Marshal(m)
	var back map[string]any
	_ = json.Unmarshal(out, &back)
	return back
}

// The fast path must be taken for the common result: an object whose
// values, not keys, spell the reply's keys.
func TestSpliceReply_TakesCommonResult(t *testing.T) {
	b, _ := json.Marshal(map[string]any{"status": "success", "counter": 1, "note": `,"id":`})
	if _, ok := spliceReply("1k", b); !ok {
		t.Fatalf("slow path taken for %s", b)
	}
	b, _ = json.Marshal(map[string]any{"id": 1})
	if _, ok := spliceReply("1k", b); ok {
		t.Fatalf("fast path taken for %s", b)
	}
}

func TestSuccessReply_FastPathMatchesSlow(t *testing.T) {
	tests := []struct {
		name   string
		id     string
		result any
	}{
		{"empty object", "1k", map[string]any{}},
		{"fields", "1k", map[string]any{"message": "a-ling!", "counter": 3}},
		{"no id", "", map[string]any{"counter": 3}},
		{"id needs escaping", "a\"b\\c\n", map[string]any{"x": 1}},
		{"id with characters escaped for HTML", "<a&b>", map[string]any{"x": 1}},
		{"id beyond ASCII", "é", map[string]any{"x": 1}},
		{"struct", "7", struct {
			A int    `json:"a"`
			B string `json:"b"`
		}{1, "<&>"}},
		{"overrides success", "2", map[string]any{"success": false, "n": 1}},
		{"overrides id and error", "3", map[string]any{"id": "mine", "error": "x", "n": 1}},
		{"scalar", "4", 42},
		{"array", "5", []int{1, 2}},
		{"nested keys", "6", map[string]any{"inner": map[string]any{"success": 1, "id": 2}}},
		{"key names as values", "8", map[string]any{"status": "success", "e": "error", "w": `,"id":`, "x": `{"success":`}},
		{"key in a longer key", "9", map[string]any{"success_rate": 1, "ids": 2, "xerror": 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got map[string]any
			if err := json.Unmarshal(SuccessReply(tt.id, tt.result), &got); err != nil {
				t.Fatal(err)
			}
			if want := slowReply(tt.id, tt.result); !reflect.DeepEqual(got, want) {
				t.Fatalf("got %v\nwant %v", got, want)
			}
		})
	}
}
