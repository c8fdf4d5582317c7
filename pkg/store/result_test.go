package store_test

import (
	"encoding/json"
	"testing"

	"github.com/schedulezero/schedulezero/pkg/store"
)

func TestResultWithoutOutput(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"exit_code":0,"stdout":"hi\n","stderr":""}`, `{"exit_code":0}`},
		{`{"message":"<b>ok</b>"}`, `{"message":"<b>ok</b>"}`},
		{`{"stdout":"x","note":"a<b"}`, `{"note":"a<b"}`},
		{`[1,2]`, `[1,2]`},
		{`not json`, `not json`},
	} {
		if got := string(store.ResultWithoutOutput(json.RawMessage(tc.in))); got != tc.want {
			t.Errorf("ResultWithoutOutput(%s) = %s, want %s", tc.in, got, tc.want)
		}
	}
}
