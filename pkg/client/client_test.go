package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/schedulezero/schedulezero/pkg/api"
	"github.com/schedulezero/schedulezero/pkg/api/apitest"
	"github.com/schedulezero/schedulezero/pkg/client"
	"github.com/schedulezero/schedulezero/pkg/scheduler/schedtype"
	"github.com/schedulezero/schedulezero/pkg/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newBackend() *apitest.Backend {
	b := apitest.NewBackend()
	b.AddHandler(schedtype.HandlerStatus{Handler: store.Handler{ID: "dingaling", Methods: []string{"ping", "quick_aling"}, Status: "online"}})
	return b
}

// serve starts the API over TCP or a unix socket and returns a client.
func serve(t *testing.T, b *apitest.Backend, unix bool, opts ...client.Option) *client.Client {
	t.Helper()
	srv := httptest.NewUnstartedServer(api.New(api.Options{Backend: b}))
	addr := ""
	if unix {
		sock := filepath.Join(t.TempDir(), "api.sock")
		ln, err := net.Listen("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		srv.Listener = ln
		addr = "unix:" + sock
	}
	srv.Start()
	t.Cleanup(srv.Close)
	if !unix {
		addr = srv.URL
	}
	c, err := client.New(addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestClient_RoundTrip(t *testing.T) {
	for _, unix := range []bool{false, true} {
		name := map[bool]string{false: "tcp", true: "unix"}[unix]
		t.Run(name, func(t *testing.T) {
			c := serve(t, newBackend(), unix)
			ctx := ctx(t)
			if h, err := c.Health(ctx); err != nil || h.Status != "ok" {
				t.Fatalf("Health = %+v, %v", h, err)
			}
			s, err := c.CreateSchedule(ctx, api.CreateScheduleRequest{ID: "q", HandlerID: "dingaling", Method: "quick_aling",
				Params: json.RawMessage(`{"n":1}`), Trigger: json.RawMessage(`{"type":"interval","seconds":2}`), Timeout: "5s"})
			if err != nil || s.ID != "q" || s.Timeout != "5s" {
				t.Fatalf("CreateSchedule = %+v, %v", s, err)
			}
			if l, err := c.Schedules(ctx); err != nil || len(l) != 1 {
				t.Fatalf("Schedules = %v, %v", l, err)
			}
			if s, err := c.PauseSchedule(ctx, "q"); err != nil || !s.Paused {
				t.Fatalf("Pause = %+v, %v", s, err)
			}
			if s, err := c.ResumeSchedule(ctx, "q"); err != nil || s.Paused {
				t.Fatalf("Resume = %+v, %v", s, err)
			}
			run, err := c.RunSchedule(ctx, "q", false)
			eid := run.ExecutionID
			if err != nil || eid == "" || run.Outcome != api.OutcomeStarted {
				t.Fatalf("RunSchedule = %+v, %v", run, err)
			}
			attempts := 4
			s, err = c.UpdateSchedule(ctx, "q", api.UpdateScheduleRequest{MaxAttempts: &attempts, Policy: json.RawMessage(`{"misfire":"skip","backoff":"2s"}`)})
			if err != nil || s.MaxAttempts != 4 || s.Policy == nil || s.Policy.Misfire != "skip" || s.Policy.Backoff != "2s" || s.Timeout != "5s" {
				t.Fatalf("UpdateSchedule = %+v, %v", s, err)
			}
			from := s.CreatedAt
			bf, err := c.Backfill(ctx, "q", from, from.Add(4*time.Second))
			if err != nil || bf.ScheduleID != "q" || len(bf.Occurrences) != 3 || !bf.Occurrences[0].Equal(from) {
				t.Fatalf("Backfill = %+v, %v", bf, err)
			}
			if _, err := c.RunSchedule(ctx, "q", true); err != nil {
				t.Fatalf("RunSchedule force: %v", err)
			}
			if a, err := c.Execution(ctx, eid); err != nil || len(a) != 1 || a[0].ScheduleID != "q" {
				t.Fatalf("Execution = %+v, %v", a, err)
			}
			if e, err := c.RunNow(ctx, api.RunNowRequest{HandlerID: "dingaling", Method: "ping"}); err != nil || e.Status != store.StatusSucceeded {
				t.Fatalf("RunNow = %+v, %v", e, err)
			}
			if l, err := c.Executions(ctx, client.ExecutionQuery{ScheduleID: "q", Limit: 10}); err != nil || len(l) != 5 {
				t.Fatalf("Executions = %+v, %v", l, err)
			}
			if st, err := c.Stats(ctx); err != nil || st.Total != 6 || st.SuccessRate != 100 {
				t.Fatalf("Stats = %+v, %v", st, err)
			}
			if h, err := c.Handlers(ctx); err != nil || len(h) != 1 {
				t.Fatalf("Handlers = %+v, %v", h, err)
			}
			if err := c.ClearExecutions(ctx); err != nil {
				t.Fatal(err)
			}
			if err := c.DeleteSchedule(ctx, "q"); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Schedule(ctx, "q"); err == nil {
				t.Fatal("Schedule after delete succeeded")
			}
		})
	}
}

func TestClient_APIError(t *testing.T) {
	c := serve(t, newBackend(), false)
	tests := []struct {
		name   string
		call   func(context.Context) error
		status int
		field  string
	}{
		{"not found", func(ctx context.Context) error { _, err := c.Schedule(ctx, "ghost"); return err }, 404, ""},
		{"bad field", func(ctx context.Context) error {
			_, err := c.CreateSchedule(ctx, api.CreateScheduleRequest{HandlerID: "dingaling", Method: "ping", Trigger: json.RawMessage(`{"type":"interval","seconds":1}`), Timeout: "soon"})
			return err
		}, 400, "timeout"},
		{"missing handler", func(ctx context.Context) error {
			_, err := c.RunNow(ctx, api.RunNowRequest{Method: "ping"})
			return err
		}, 400, "handler_id"},
		{"bad policy", func(ctx context.Context) error {
			_, err := c.CreateSchedule(ctx, api.CreateScheduleRequest{HandlerID: "dingaling", Method: "ping", Trigger: json.RawMessage(`{"type":"interval","seconds":1}`),
				Policy: &api.Policy{Overlap: "never"}})
			return err
		}, 400, "policy.overlap"},
		{"backfill unknown", func(ctx context.Context) error {
			_, err := c.Backfill(ctx, "ghost", time.Now(), time.Now())
			return err
		}, 404, ""},
		{"update unknown key in policy", func(ctx context.Context) error {
			_, err := c.UpdateSchedule(ctx, "q", api.UpdateScheduleRequest{Policy: json.RawMessage(`{"x":1}`)})
			return err
		}, 400, "policy.x"},
		{"bad status filter", func(ctx context.Context) error {
			_, err := c.Executions(ctx, client.ExecutionQuery{Status: "weird"})
			return err
		}, 400, "status"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call(ctx(t))
			var ae *client.APIError
			if !errors.As(err, &ae) {
				t.Fatalf("err = %v, want *APIError", err)
			}
			if ae.Status != tc.status || ae.Field != tc.field || ae.Message == "" {
				t.Errorf("APIError = %+v, want status %d field %q", ae, tc.status, tc.field)
			}
		})
	}
}

func TestClient_Unreachable(t *testing.T) {
	tests := []struct{ name, addr string }{
		{"missing socket", "unix:" + filepath.Join(t.TempDir(), "none.sock")},
		{"closed port", closedAddr(t)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := client.New(tc.addr, client.WithTimeout(2*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := c.Health(ctx(t)); !errors.Is(err, client.ErrUnreachable) {
				t.Errorf("err = %v, want ErrUnreachable", err)
			}
		})
	}
}

func closedAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := "http://" + ln.Addr().String()
	ln.Close()
	return addr
}

func TestClient_TimeoutBoundsBlockingCall(t *testing.T) {
	b := newBackend()
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	b.SetRunFunc(func(ctx context.Context, _, _ string, _ json.RawMessage) (json.RawMessage, error) {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-release:
			return json.RawMessage(`{"success":true}`), nil
		}
	})
	c := serve(t, b, false, client.WithTimeout(200*time.Millisecond))
	start := time.Now()
	_, err := c.RunNow(ctx(t), api.RunNowRequest{HandlerID: "dingaling", Method: "ping"})
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, client.ErrUnreachable) {
		t.Errorf("err = %v, want a deadline", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("RunNow returned after %v, want about 200ms", d)
	}
}

func TestNew_Addresses(t *testing.T) {
	tests := []struct {
		addr    string
		wantErr bool
	}{
		{"http://127.0.0.1:8888", false}, {"https://example.com", false}, {"127.0.0.1:8888", false},
		{"unix:/run/sz/api.sock", false}, {"unix:", true}, {"http://", true}, {"nonsense", true},
	}
	for _, tc := range tests {
		t.Run(tc.addr, func(t *testing.T) {
			c, err := client.New(tc.addr)
			if (err != nil) != tc.wantErr {
				t.Fatalf("New(%q) err = %v, wantErr %v", tc.addr, err, tc.wantErr)
			}
			if c != nil {
				c.Close()
			}
		})
	}
}

func TestAPIError_Error(t *testing.T) {
	e := &client.APIError{Status: 400, Message: "timeout \"soon\" is not a duration", Field: "timeout", Fix: "use 30s"}
	if got, want := e.Error(), `400: timeout: timeout "soon" is not a duration (use 30s)`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}
