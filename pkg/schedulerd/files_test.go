package schedulerd_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/handler"
	"github.com/schedulezero/schedulezero/pkg/schedulerd"
	"github.com/schedulezero/schedulezero/pkg/sd"
	"github.com/schedulezero/schedulezero/pkg/sd/sdtest"
	"github.com/schedulezero/schedulezero/pkg/store"
	"github.com/schedulezero/schedulezero/pkg/wire/wiretest"
)

// The daemon applies its schedule files at start and on reload: a
// package's file under an administrator's override and drop-in; a broken
// file keeps the schedule's last good definition and is named in STATUS=
// with its line; a file removed deletes its schedule.
func TestDaemon_ScheduleFiles(t *testing.T) {
	sock := sdtest.New(t, 0)
	dir := t.TempDir()
	etc, lib := filepath.Join(dir, "etc"), filepath.Join(dir, "lib")
	put := func(p, s string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	put(filepath.Join(lib, "nightly.schedule"), "[Schedule]\nHandler=h\nMethod=m1\nOnCalendar=*-*-* 02:00\n")
	put(filepath.Join(etc, "nightly.schedule.d", "override.conf"), "[Schedule]\nMethod=m2\nRetries=2\n")
	put(filepath.Join(lib, "tick.schedule"), "[Schedule]\nHandler=h\nMethod=m1\nOnUnitActiveSec=1h\n")
	zmq := "ipc://" + filepath.Join(dir, "zmq.sock")
	ctx := context.Background()
	d, err := schedulerd.New(ctx, schedulerd.Options{
		DBPath: filepath.Join(dir, "sz.db"), ZMQBind: zmq, HTTPListen: []string{"unix:" + filepath.Join(dir, "api.sock")},
		Notifier: sd.NewNotifier(nil), ScheduleDirs: []string{etc, lib}, Location: time.UTC,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := d.Stop(ctx); err != nil {
			t.Error(err)
		}
	}()
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	// The handler registers after the scheduler started, as at boot: the
	// files naming it apply once it has.
	serve(t, zmq)
	wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if _, err := sock.Await(wctx, sdtest.HasPrefix("STATUS=2 schedules")); err != nil {
		t.Fatalf("the files were not applied once the handler registered: %v; %q", err, sock.Messages())
	}
	eng := d.Engine()
	got, err := eng.GetSchedule(ctx, "nightly")
	if err != nil || got.Method != "m2" || got.MaxAttempts != 3 || got.Source != "file:"+filepath.Join(lib, "nightly.schedule") {
		t.Fatalf("nightly = %+v, %v; want m2, 3 attempts, its file as source", got, err)
	}

	// A broken override: the schedule keeps m2, STATUS= names the line.
	put(filepath.Join(etc, "nightly.schedule"), "[Schedule]\nHandler=h\nMethod=m1\nOnCalendar=*-*-* 27:00\n")
	if err := os.Remove(filepath.Join(lib, "tick.schedule")); err != nil {
		t.Fatal(err)
	}
	before := len(sock.Messages())
	if err := d.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	i, err := sock.AwaitAfter(wctx, before-1, sdtest.HasPrefix("STATUS="))
	if err != nil {
		t.Fatal(err)
	}
	status := sock.Messages()[i]
	for _, want := range []string{"1 schedules from files: 0 created, 0 changed, 1 deleted", "1 invalid: nightly.schedule:4: OnCalendar=:"} {
		if !strings.Contains(status, want) {
			t.Errorf("%s\nwant %q in it", status, want)
		}
	}
	if got, _ := eng.GetSchedule(ctx, "nightly"); got.Method != "m2" {
		t.Errorf("the broken file changed the schedule: %+v", got)
	}
	if _, err := eng.GetSchedule(ctx, "tick"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("tick, whose file is gone, is still there: %v", err)
	}

	// Fixed: applied in place, counters and creation kept.
	put(filepath.Join(etc, "nightly.schedule"), "[Schedule]\nHandler=h\nMethod=m1\nOnCalendar=*-*-* 03:00\n")
	if err := d.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	fixed, _ := eng.GetSchedule(ctx, "nightly")
	if fixed.Method != "m2" || !strings.Contains(string(fixed.Trigger), "03:00") || !fixed.CreatedAt.Equal(got.CreatedAt) ||
		fixed.Source != "file:"+filepath.Join(etc, "nightly.schedule") {
		t.Errorf("after the fix: %+v (created %v)", fixed, got.CreatedAt)
	}
	if s := d.FilesStatus(); s != "1 schedules from files: 0 created, 1 changed, 0 deleted" {
		t.Errorf("status %q", s)
	}
}

// serve runs handler h (methods m1, m2) against the scheduler at zmq
// until the test ends.
func serve(t *testing.T, zmq string) {
	t.Helper()
	mux := handler.NewMux()
	for _, m := range []string{"m1", "m2"} {
		mux.HandleFunc(m, func(context.Context, *handler.Job) (any, error) { return map[string]any{"success": true}, nil })
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- handler.Serve(ctx, mux, handler.Options{Name: "h", Endpoint: wiretest.IPC(t, "h"), Scheduler: zmq,
			Concurrency: 1, Logger: slog.New(slog.DiscardHandler)})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("handler: %v", err)
		}
	})
}
