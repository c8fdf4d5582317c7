package dingaling_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/schedulezero/schedulezero/pkg/handler"
	"github.com/schedulezero/schedulezero/pkg/handler/dingaling"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestDingAling_Methods(t *testing.T) {
	var logs bytes.Buffer
	d := dingaling.New(slog.New(slog.NewTextHandler(&logs, nil)))
	mux := handler.NewMux()
	d.Register(mux)
	want := []string{"counter_test", "double_aling", "quick_aling", "test_sequence", "triple_aling", "visual_ping", "ping"}
	if got := strings.Join(mux.Methods(), ","); got != strings.Join(want, ",") {
		t.Errorf("methods %s", got)
	}
	for i, tc := range []struct {
		method, params string
		want           map[string]any
	}{
		{"quick_aling", ``, map[string]any{"alings": 1.0, "sound": "a-ling!"}},
		{"double_aling", `{}`, map[string]any{"alings": 2.0, "sound": "a-ling! a-ling!"}},
		{"triple_aling", ``, map[string]any{"alings": 3.0}},
		{"visual_ping", `{"message":"hello"}`, map[string]any{"message": "hello"}},
		{"counter_test", `{"increment":5}`, map[string]any{"increment": 5.0, "total": 5.0}},
		{"counter_test", ``, map[string]any{"increment": 1.0, "total": 6.0}},
		{"test_sequence", `{"sequence_name":"s1"}`, map[string]any{"sequence_name": "s1"}},
	} {
		t.Run(tc.method, func(t *testing.T) {
			out, err := mux.ServeJob(context.Background(), &handler.Job{Method: tc.method, Params: json.RawMessage(tc.params)})
			if err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(out)
			var got map[string]any
			json.Unmarshal(b, &got)
			if got["status"] != "success" || got["counter"] != float64(i+1) || got["timestamp"] == "" {
				t.Errorf("reply %s", b)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("%s = %v, want %v", k, got[k], v)
				}
			}
		})
	}
	if d.Calls() != 7 {
		t.Errorf("calls %d", d.Calls())
	}
	if n := strings.Count(logs.String(), "a-ling!"); n < 7 {
		t.Errorf("%d a-ling log lines, want 7:\n%s", n, logs.String())
	}
}

func TestDingAling_BadParamsArePermanent(t *testing.T) {
	mux := handler.NewMux()
	dingaling.New(nil).Register(mux)
	_, err := mux.ServeJob(context.Background(), &handler.Job{Method: "counter_test", Params: json.RawMessage(`{"increment":"x"}`)})
	if err == nil || !handler.IsPermanent(err) {
		t.Errorf("err = %v, want permanent", err)
	}
}
