// Command recorder is a handler for the integration tests that records
// every job it runs without a process per job: method "mark" appends the
// job's execution id and attempt to a file before it replies, so a test can
// count what ran on the handler at a thousand jobs a second, where an exec
// handler would start a thousand shells; "nap" does the same, then sleeps
// params.ms milliseconds. It is the project's own runner
// (package handler: registration, job token, journal, the scheduler list of
// a cluster) over the real wire; only the job is cheap.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/schedulezero/schedulezero/pkg/handler"
)

func main() { os.Exit(run(os.Args[1:])) }

func run(args []string) int {
	fs := flag.NewFlagSet("recorder", flag.ContinueOnError)
	name := fs.String("name", "", "handler id")
	scheduler := fs.String("scheduler", "", "scheduler registration endpoints, comma-separated")
	endpoint := fs.String("endpoint", "", "job socket to bind")
	journal := fs.String("journal", "", "journal directory (empty: none)")
	marks := fs.String("marks", "", "file the executions are appended to")
	concurrency := fs.Int("concurrency", 64, "jobs run at once")
	ping := fs.Duration("ping-interval", time.Second, "ping interval")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *name == "" || *scheduler == "" || *endpoint == "" || *marks == "" {
		fmt.Fprintln(os.Stderr, "recorder: --name, --scheduler, --endpoint and --marks are required")
		return 2
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	f, err := os.OpenFile(*marks, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		logger.Error("open marks", "path", *marks, "err", err)
		return 1
	}
	defer f.Close()
	rec := &recorder{f: f}
	mux := handler.NewMux()
	mux.HandleFunc("mark", rec.mark)
	mux.HandleFunc("nap", rec.nap)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	err = handler.Serve(ctx, mux, handler.Options{Name: *name, Scheduler: *scheduler, Endpoint: *endpoint,
		JournalDir: *journal, Concurrency: *concurrency, PingInterval: *ping, Logger: logger})
	if err != nil {
		logger.Error("serve", "err", err)
		return 1
	}
	return 0
}

// recorder appends one line per job run: the kernel keeps a line written
// before the reply even if this process is killed after it.
type recorder struct {
	mu sync.Mutex
	f  *os.File
}

// nap is mark, then a sleep of params.ms milliseconds: a run that takes
// long enough to be caught by a kill.
func (r *recorder) nap(ctx context.Context, job *handler.Job) (any, error) {
	var p struct {
		MS int `json:"ms"`
	}
	if err := json.Unmarshal(job.Params, &p); err != nil {
		return nil, handler.Permanent(fmt.Errorf("params: %w", err))
	}
	if _, err := r.mark(ctx, job); err != nil {
		return nil, err
	}
	select {
	case <-time.After(time.Duration(p.MS) * time.Millisecond):
		return nil, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (r *recorder) mark(_ context.Context, job *handler.Job) (any, error) {
	line := job.ExecutionID + "\n"
	if strings.ContainsAny(job.ExecutionID, "\n ") {
		return nil, handler.Permanent(fmt.Errorf("execution id %q: not one word", job.ExecutionID))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, err := r.f.WriteString(line); err != nil {
		return nil, fmt.Errorf("marks %s: %w", r.f.Name(), err)
	}
	return nil, nil
}
