package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	apiclient "github.com/schedulezero/schedulezero/pkg/client"
	"github.com/schedulezero/schedulezero/pkg/governor"
	"github.com/schedulezero/schedulezero/pkg/governor/client"
)

// The governor's client shares the scheduler client's transport: the same
// *APIError with the same message, and the same bound on answers.
func TestClient_SharesTheSchedulerTransport(t *testing.T) {
	big := strings.Repeat("x", 20<<20) // more than the 16 MiB this client once read
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Method == http.MethodPost {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":{"code":400,"message":"is empty","field":"name","fix":"use ding-aling"}}`))
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"handlers": []governor.HandlerInfo{{Name: "ding", LastError: big}}})
	}))
	defer srv.Close()
	c, err := client.New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()

	_, err = c.Add(ctx, governor.HandlerConfig{Kind: "dingaling"})
	ae, ok := errors.AsType[*apiclient.APIError](err)
	if !ok || ae.Field != "name" {
		t.Fatalf("err = %v, want a *client.APIError naming field name", err)
	}
	if want := "400: name: is empty (use ding-aling)"; err.Error() != want {
		t.Errorf("err = %q, want %q", err, want)
	}

	hs, err := c.List(ctx)
	if err != nil || len(hs) != 1 || len(hs[0].LastError) != len(big) {
		t.Fatalf("List of a 20 MiB answer = %d handlers, %v", len(hs), err)
	}
}
