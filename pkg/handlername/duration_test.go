package handlername_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/handlername"
)

func TestDuration_JSON(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{`"1.5s"`, 1500 * time.Millisecond, true},
		{`1000`, 0, false},
		{`"0s"`, 0, true},
		{`"soon"`, 0, false},
		{`"-1s"`, 0, false},

		{`true`, 0, false},
	} {
		var d handlername.Duration
		err := json.Unmarshal([]byte(tt.in), &d)
		if (err == nil) != tt.ok || time.Duration(d) != tt.want {
			t.Errorf("unmarshal %s = %v, %v; want %v, ok %v", tt.in, time.Duration(d), err, tt.want, tt.ok)
		}
	}
	b, _ := json.Marshal(handlername.Duration(2 * time.Second))
	if string(b) != `"2s"` {
		t.Errorf("marshal = %s", b)
	}
}
