package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/schedulezero/schedulezero/pkg/api"
	"github.com/schedulezero/schedulezero/pkg/client"
	"github.com/schedulezero/schedulezero/pkg/governor"
	gclient "github.com/schedulezero/schedulezero/pkg/governor/client"
	"github.com/schedulezero/schedulezero/pkg/store"
)

// Demo bounds.
const (
	demoStartTimeout = 20 * time.Second // scheduler API up, handler online
	demoStopGrace    = 5 * time.Second  // SIGTERM to SIGKILL
	schedulerBin     = "schedulezero-scheduler"
	handlerBin       = "schedulezero-handler"
	governorBin      = "schedulezero-governor"
	// demoHandlerStop is the governor's SIGTERM-to-SIGKILL wait for the
	// handler; below demoStopGrace, so the governor is done before the
	// demo would SIGKILL it.
	demoHandlerStop = 3 * time.Second
)

func demoCommand() *cli.Command {
	return &cli.Command{
		Name:  "demo",
		Usage: "run a scheduler, a governor and the dingaling handler in a temp dir and watch schedules fire",
		Description: "Starts " + schedulerBin + " and " + governorBin + " (found next to this executable or on PATH)\n" +
			"in a fresh temporary directory; the governor (process backend, no root, no systemd) spawns\n" +
			handlerBin + " and keeps it healthy. The demo adds a few schedules and follows their executions.\n" +
			"While it runs, schedulezero in another terminal finds it by itself: the demo writes its addresses to\n" +
			demoFileHelp + " (or $TMPDIR/schedulezero-UID/demo.json), owner-only, removed on exit.\n" +
			"Ctrl-C stops the governor, which stops the handler, then the scheduler, removes the directory\n" +
			"and prints a summary: runs, failures and missed occurrences.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "keep", Usage: "keep the temporary directory (database and logs)"},
			&cli.DurationFlag{Name: "duration", Usage: "stop by itself after this long (0: until Ctrl-C)"},
			&cli.StringFlag{Name: "zmq-bind", DefaultText: "tcp://" + demoZMQAddr + " if free, else ipc:// in the temporary directory",
				Usage: "the scheduler's registration `ENDPOINT`, where handlers started by hand register"},
		},
		Action: demo,
	}
}

// lockedWriter serialises the demo's own output and the echoed handler lines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// child is one started daemon.
type child struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{} // closed when Wait returned
	err  error         // Wait's result, valid after done
}

func findBinary(name string) (string, error) {
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return exec.LookPath(name)
}

func demo(c *cli.Context) error {
	out := &lockedWriter{w: c.App.Writer}
	var missing []string
	bins := map[string]string{}
	for _, name := range []string{schedulerBin, governorBin, handlerBin} {
		p, err := findBinary(name)
		if err != nil {
			missing = append(missing, name)
			continue
		}
		bins[name] = p
	}
	if len(missing) > 0 {
		return cli.Exit(fmt.Sprintf("demo: cannot find %s (needs %s, %s and %s next to schedulezero or on PATH; run make build)",
			strings.Join(missing, " and "), schedulerBin, governorBin, handlerBin), exitGeneral)
	}

	ctx := c.Context
	if d := c.Duration("duration"); d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	dir, err := os.MkdirTemp("", "sz-demo-")
	if err != nil {
		return cli.Exit("demo: "+err.Error(), exitGeneral)
	}
	keep := c.Bool("keep")
	defer func() {
		if keep {
			fmt.Fprintf(out, "kept %s (database and logs)\n", dir)
			return
		}
		os.RemoveAll(dir)
	}()

	var children []*child
	defer func() { // stop in reverse order: the governor (and with it the handler), then the scheduler
		for i := len(children) - 1; i >= 0; i-- {
			stopChild(children[i])
		}
	}()
	zmq, apiSock := cmp.Or(c.String("zmq-bind"), demoZMQ(dir)), "unix:"+filepath.Join(dir, "api.sock")
	sched, err := startChild("scheduler", bins[schedulerBin], filepath.Join(dir, "scheduler.log"), nil,
		"--db", filepath.Join(dir, "schedulezero.db"), "--zmq-bind", zmq, "--http-listen", apiSock)
	if err != nil {
		return cli.Exit("demo: "+err.Error(), exitGeneral)
	}
	children = append(children, sched)
	fmt.Fprintf(out, "demo: scheduler started in %s\n", dir)

	cl, err := client.New(apiSock, client.WithTimeout(2*time.Second))
	if err != nil {
		return cli.Exit("demo: "+err.Error(), exitGeneral)
	}
	defer cl.Close()
	if err := waitFor(ctx, sched, "scheduler API", func(ctx context.Context) (bool, error) {
		_, err := cl.Health(ctx)
		return err == nil, err
	}); err != nil {
		return demoFailure(ctx, err, sched)
	}

	govSock := filepath.Join(dir, "governor.sock")
	gov, err := startChild("governor", bins[governorBin], filepath.Join(dir, "governor.log"), out,
		"--backend", "process", "--handler-bin", bins[handlerBin], "--config-dir", filepath.Join(dir, "handlers"),
		"--api-listen", "unix:"+govSock, "--scheduler", zmq, "--scheduler-api", apiSock,
		"--check-interval", "1s", "--stop-timeout", demoHandlerStop.String())
	if err != nil {
		return cli.Exit("demo: "+err.Error(), exitGeneral)
	}
	children = append(children, gov)
	gc, err := gclient.New("unix:" + govSock)
	if err != nil {
		return cli.Exit("demo: "+err.Error(), exitGeneral)
	}
	defer gc.Close()
	var info governor.HandlerInfo
	if err := waitFor(ctx, gov, "the governor to start handler dingaling", func(ctx context.Context) (bool, error) {
		actx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		hi, err := gc.Add(actx, governor.HandlerConfig{Name: "dingaling", Kind: "dingaling"})
		var ae *client.APIError
		if errors.As(err, &ae) && ae.Status == http.StatusConflict { // an earlier try got through
			hi, err = gc.Status(actx, "dingaling")
		}
		if err == nil {
			info = hi
		}
		return err == nil, err
	}); err != nil {
		return demoFailure(ctx, err, gov, sched)
	}
	fmt.Fprintf(out, "demo: the governor (process backend) started handler dingaling, pid %d\n", info.PID)
	removeFile, err := writeDemoFile(demoFile{PID: os.Getpid(), API: apiSock, Governor: "unix:" + govSock, ZMQ: zmq, Dir: dir})
	if err != nil {
		return demoFailure(ctx, err)
	}
	defer removeFile()
	fmt.Fprintf(out, "demo: API %s, handlers register at %s (written to %s);\n"+
		"      in another terminal, schedulezero finds this demo by itself: bin/schedulezero schedule list\n", apiSock, zmq, demoFilePath())
	if err := waitFor(ctx, gov, "handler dingaling online", func(ctx context.Context) (bool, error) {
		hs, err := cl.Handlers(ctx)
		for _, h := range hs {
			if h.ID == "dingaling" && h.Status == "online" {
				return true, nil
			}
		}
		return false, err
	}); err != nil {
		return demoFailure(ctx, err, gov, sched)
	}

	for _, req := range demoSchedules(time.Now()) {
		s, err := cl.CreateSchedule(ctx, req)
		if err != nil {
			return demoFailure(ctx, fmt.Errorf("adding %s: %w", req.ID, err), sched)
		}
		fmt.Fprintf(out, "scheduled %-14s %-14s %s\n", escapeText(s.ID), escapeText(s.Method), escapeText(describeTrigger(s.Trigger)))
	}
	fmt.Fprintln(out, "following executions (Ctrl-C to stop)")

	f := &follower{cl: cl, q: client.ExecutionQuery{Limit: 200}} // every handler, also those added with handlers add
	var sum demoSummary
	fctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() { // a child that dies ends the demo
		select {
		case <-sched.done:
		case <-gov.done:
		case <-fctx.Done():
		}
		stop()
	}()
	_ = f.run(fctx, func(recs []store.Execution) {
		for _, e := range recs {
			if e.Status.Finished() {
				sum.add(e)
				fmt.Fprintln(out, demoRow(e))
			}
		}
	}, func(err error) { fmt.Fprintln(c.App.ErrWriter, "demo: history:", err) })
	for _, ch := range []*child{sched, gov} {
		select {
		case <-ch.done:
			if ctx.Err() == nil {
				return demoFailure(ctx, fmt.Errorf("%s exited: %w", ch.name, ch.err), ch)
			}
		default:
		}
	}
	fmt.Fprintln(out, "demo: stopping; "+sum.String())
	return nil
}

// demoSummary counts the finished attempts the demo printed.
type demoSummary struct {
	runs, failures, missed int
	handlers               map[string][3]int
}

func (s *demoSummary) add(e store.Execution) {
	if s.handlers == nil {
		s.handlers = map[string][3]int{}
	}
	h := s.handlers[e.HandlerID]
	switch {
	case e.Status == store.StatusMissed:
		s.missed++
		h[2]++
	case e.Status == store.StatusSucceeded:
		s.runs++
		h[0]++
	default:
		s.runs++
		s.failures++
		h[0]++
		h[1]++
	}
	s.handlers[e.HandlerID] = h
}

func (s demoSummary) String() string {
	line := fmt.Sprintf("%d runs, %d failures, %d missed", s.runs, s.failures, s.missed)
	if len(s.handlers) > 1 {
		for _, id := range slices.Sorted(maps.Keys(s.handlers)) {
			h := s.handlers[id]
			line += fmt.Sprintf("\n      %s: %d runs, %d failures, %d missed", escapeText(id), h[0], h[1], h[2])
		}
	}
	return line
}

// demoZMQ is the registration endpoint of the demo's scheduler: the
// protocol's default tcp://127.0.0.1:4242 when it is free, so that a
// handler started by hand (pkg/handler's default, a Python handler of the
// original) finds the demo, else a socket in the demo's directory.
func demoZMQ(dir string) string {
	if l, err := net.Listen("tcp", demoZMQAddr); err == nil {
		l.Close()
		return "tcp://" + demoZMQAddr
	}
	return "ipc://" + filepath.Join(dir, "zmq.sock")
}

const demoZMQAddr = "127.0.0.1:4242"

// demoSchedules are the schedules the demo adds.
func demoSchedules(now time.Time) []api.CreateScheduleRequest {
	mk := func(id, method, trig, params string) api.CreateScheduleRequest {
		r := api.CreateScheduleRequest{ID: id, HandlerID: "dingaling", Method: method, Trigger: json.RawMessage(trig), Replace: true}
		if params != "" {
			r.Params = json.RawMessage(params)
		}
		return r
	}
	at := now.Add(3 * time.Second).UTC().Format(time.RFC3339Nano)
	return []api.CreateScheduleRequest{
		mk("quick_aling", "quick_aling", `{"type":"interval","seconds":2}`, ""),
		mk("double_aling", "double_aling", `{"type":"cron","expr":"*/5 * * * * *"}`, ""),
		mk("triple_aling", "triple_aling", `{"type":"date","run_date":"`+at+`"}`, ""),
		mk("counter_test", "counter_test", `{"type":"interval","seconds":3}`, `{"increment":5}`),
	}
}

func demoRow(e store.Execution) string {
	counter := "-"
	var r struct {
		Counter *json.Number `json:"counter"`
	}
	if json.Unmarshal(e.Result, &r) == nil && r.Counter != nil {
		counter = r.Counter.String()
	}
	at := cmp.Or(e.CompletedAt, e.StartedAt).Local().Format("15:04:05.000")
	line := fmt.Sprintf("%s  %-14s %-14s %-8s %8.1fms  counter=%s", at, escapeText(cmp.Or(e.ScheduleID, "(run now)")), escapeText(e.Method),
		escapeText(string(e.Status)), e.DurationMS, escapeText(counter))
	if e.Error != "" {
		line += "  error=" + escapeText(e.Error)
	}
	return line
}

// startChild starts a daemon with its output in logPath; when echo is set,
// lines containing "a-ling" are also echoed to it prefixed [dingaling].
func startChild(name, bin, logPath string, echo io.Writer, args ...string) (*child, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if echo != nil {
		lw := &lineEcho{file: logf, echo: echo, match: "a-ling", prefix: "[dingaling] "}
		cmd.Stdout, cmd.Stderr = lw, lw
	}
	cmd.WaitDelay = demoStopGrace // bounds the output copy if a grandchild keeps the pipe
	// Ctrl-C signals the terminal's whole foreground process group. The
	// demo stops its daemons itself, in order (stopChild); a daemon that
	// took the signal too could exit before the demo saw its own, and the
	// demo took that exit for a failure. So each daemon gets a process
	// group of its own, and SIGTERM should the demo die without stopping
	// it (kill -9, a closed terminal).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	ch := &child{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		ch.err = cmd.Wait()
		logf.Close()
		close(ch.done)
	}()
	return ch, nil
}

// stopChild sends SIGTERM, waits up to demoStopGrace, then SIGKILLs.
func stopChild(ch *child) {
	select {
	case <-ch.done:
		return
	default:
	}
	_ = ch.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(demoStopGrace)
	defer t.Stop()
	select {
	case <-ch.done:
	case <-t.C:
		_ = ch.cmd.Process.Kill()
		<-ch.done
	}
}

// waitFor polls cond every 100 ms until it holds, ctx ends, the child exits
// or demoStartTimeout passes.
func waitFor(ctx context.Context, ch *child, what string, cond func(context.Context) (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, demoStartTimeout)
	defer cancel()
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	var last error
	for {
		ok, err := cond(ctx)
		if ok {
			return nil
		}
		if err != nil {
			last = err
		}
		select {
		case <-ch.done:
			return fmt.Errorf("waiting for %s: %s exited: %w", what, ch.name, ch.err)
		case <-ctx.Done():
			if last != nil {
				return fmt.Errorf("waiting for %s: %w (last error: %w)", what, ctx.Err(), last)
			}
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-t.C:
		}
	}
}

// demoFailure returns the error with the tail of the children's logs, or
// nil when the demo was interrupted (Ctrl-C or --duration) meanwhile.
func demoFailure(ctx context.Context, err error, chs ...*child) error {
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return nil
	}
	var b strings.Builder
	b.WriteString("demo: " + err.Error())
	for _, ch := range chs {
		fmt.Fprintf(&b, "\n--- last lines of %s (%s) ---\n%s", ch.name, ch.log, tail(ch.log, 20))
	}
	return cli.Exit(b.String(), exitGeneral)
}

func tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// lineEcho copies a child's output to its log file and echoes matching
// lines. exec runs Write from one goroutine per stream; mu orders them.
type lineEcho struct {
	mu     sync.Mutex
	file   io.Writer
	echo   io.Writer
	match  string
	prefix string
	buf    []byte
}

func (l *lineEcho) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, err := l.file.Write(p); err != nil {
		return 0, err
	}
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		line := l.buf[:i]
		if bytes.Contains(line, []byte(l.match)) {
			fmt.Fprintf(l.echo, "%s%s\n", l.prefix, escapeText(string(line)))
		}
		l.buf = l.buf[i+1:]
	}
	if len(l.buf) > 64<<10 { // a runaway line: drop it rather than grow
		l.buf = l.buf[:0]
	}
	return len(p), nil
}
