package schedulerd_test

// The in-process daemon the value and slow-client tests drive, and the
// log sink they assert on.

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/api"
	"github.com/schedulezero/schedulezero/pkg/schedulerd"
	"github.com/schedulezero/schedulezero/pkg/store"
)

// logSink collects the records of a slog.Logger, for assertions on logs.
type logSink struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (s *logSink) Enabled(context.Context, slog.Level) bool { return true }
func (s *logSink) Handle(_ context.Context, r slog.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recs = append(s.recs, r.Clone())
	return nil
}
func (s *logSink) WithAttrs([]slog.Attr) slog.Handler { return s } // the tests look at record attributes only
func (s *logSink) WithGroup(string) slog.Handler      { return s }

// find returns the attributes of each record at level whose message starts
// with prefix.
func (s *logSink) find(level slog.Level, prefix string) []map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]string
	for _, r := range s.recs {
		if r.Level != level || !strings.HasPrefix(r.Message, prefix) {
			continue
		}
		attrs := map[string]string{}
		r.Attrs(func(a slog.Attr) bool { attrs[a.Key] = a.Value.String(); return true })
		out = append(out, attrs)
	}
	return out
}

// daemon runs a scheduler in process until the test ends. opts.DBPath,
// ZMQBind and HTTPListen default to files in a temporary directory and a
// TCP port on 127.0.0.1.
func daemon(t *testing.T, opts schedulerd.Options) *schedulerd.Daemon {
	t.Helper()
	dir := t.TempDir()
	if opts.DBPath == "" {
		opts.DBPath = filepath.Join(dir, "sz.db")
	}
	if opts.ZMQBind == "" {
		opts.ZMQBind = "ipc://" + filepath.Join(dir, "zmq.sock")
	}
	if opts.HTTPListen == nil {
		opts.HTTPListen = []string{"127.0.0.1:0"}
	}
	ctx := context.Background()
	d, err := schedulerd.New(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Start(ctx); err != nil {
		_ = d.Stop(ctx)
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Stop(context.Background()); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return d
}

// seed writes a handler and schedules into a new store file, as a store
// written by an older version would hold them.
func seed(t *testing.T, path string, schedules ...store.Schedule) {
	t.Helper()
	db, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := db.PutHandler(ctx, store.Handler{ID: "dingaling", Address: "ipc:///nonexistent", Methods: []string{"ping"}, Status: "offline"}); err != nil {
		t.Fatal(err)
	}
	if err := db.Commit(ctx, store.Writes{Schedules: schedules}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

func httpBase(d *schedulerd.Daemon) string { return "http://" + d.HTTPAddrs()[0].String() }

// post sends body and returns the status, the Location header and the
// error envelope's field and message.
func post(t *testing.T, url, body string) (code int, location, fieldName, msg string) {
	t.Helper()
	hc := &http.Client{Timeout: 5 * time.Second}
	defer hc.CloseIdleConnections()
	resp, err := hc.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	var e api.ErrorBody
	_ = json.NewDecoder(resp.Body).Decode(&e) // success bodies have no error
	return resp.StatusCode, resp.Header.Get("Location"), e.Error.Field, e.Error.Message
}
