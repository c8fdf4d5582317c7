package handler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	"github.com/schedulezero/schedulezero/pkg/field"
	"github.com/schedulezero/schedulezero/pkg/handlername"
	"github.com/schedulezero/schedulezero/pkg/wire"
)

// Defaults of Options.
const (
	DefaultEndpoint        = "tcp://127.0.0.1:0"
	DefaultScheduler       = "tcp://127.0.0.1:4242"
	DefaultConcurrency     = 16
	DefaultPingInterval    = 30 * time.Second
	DefaultShutdownTimeout = 10 * time.Second
)

// Options configure Serve. Zero values take the defaults above.
type Options struct {
	// Name is the handler id the handler registers under. Required.
	Name string
	// Endpoint is where the job socket binds (tcp://host:port, ipc://path).
	Endpoint string
	// Scheduler is the scheduler's registration endpoint; several,
	// comma-separated, for a cluster of schedulers: the handler registers
	// with whichever answers (the leader) and moves on when it stops.
	Scheduler string
	// Concurrency is how many jobs run at once.
	Concurrency int
	// PingInterval is how often the scheduler is pinged; a failed ping or
	// a restarted scheduler leads to a new registration.
	PingInterval time.Duration
	// ShutdownTimeout bounds the wait for in-flight jobs on stop; then
	// their contexts are canceled.
	ShutdownTimeout time.Duration
	// Secret is sent with the registration.
	Secret string
	// Instance tells this process apart from others serving Name (a
	// pool, on this host or others): a registration with the id of an
	// earlier one replaces it, one with a new id joins the pool. It must
	// stay the same across restarts; empty: DefaultInstance.
	Instance string
	// Labels are KEY=VALUE pairs a schedule's constraint (--on) matches.
	Labels map[string]string
	// Limits bound what a peer of the job socket, or the scheduler's
	// registration server, may send; zero: the defaults of package wire.
	Limits wire.Limits
	// Wire are options of both sockets beyond Limits: wire.WithCurveClient
	// for a scheduler on another host (docs/security.md).
	Wire   []wire.Option
	Logger *slog.Logger
	// ReadyFunc is called once, when the socket is bound and the first
	// registration was accepted.
	ReadyFunc func()
	// StatusFunc, when set, receives a one-line live summary.
	StatusFunc func(string)
	// JournalDir, when set, holds the journal of the attempts this handler
	// ended (JournalFile): each reply is fsynced there before it is sent,
	// and a job that arrives again (same execution id and attempt) is
	// answered from it instead of running twice, also after a restart of
	// the handler. Empty: no journal (a repeated job runs again, unless it
	// is still running).
	JournalDir string
	// JournalEntries and JournalMaxAge bound what the journal remembers;
	// zero: DefaultJournalEntries, DefaultJournalMaxAge.
	JournalEntries int
	JournalMaxAge  time.Duration
}

// ErrShuttingDown is the error of jobs that arrive while Serve stops.
var ErrShuttingDown = errors.New("handler shutting down")

// ErrUnhealthy is wrapped by Server.Health when a loop of the handler no
// longer turns.
var ErrUnhealthy = errors.New("handler unhealthy")

// Serve runs the handler until ctx is done: it binds the job socket,
// registers with the scheduler (protocol 4, with a job token that every job
// request must then carry), answers jobs with up to
// Concurrency running at once, pings the scheduler and re-registers when
// needed. On ctx done it stops taking jobs (a job that arrives then is
// answered "not_run"), reports "stopping", waits for running ones (bounded
// by ShutdownTimeout), reports "offline" and closes its sockets.
func Serve(ctx context.Context, h *Mux, opts Options) error {
	s, err := NewServer(h, opts)
	if err != nil {
		return err
	}
	return s.Serve(ctx)
}

// Server is one handler instance: NewServer binds its job socket, Serve
// runs it, and Health and Status describe it to a supervisor (systemd's
// watchdog and STATUS= line) while it runs.
type Server struct {
	r       *runner
	served  atomic.Bool
	started chan struct{} // closed when Serve starts its loops
}

// NewServer validates opts and binds the job socket; nothing is served and
// no registration is attempted until Serve.
func NewServer(h *Mux, opts Options) (*Server, error) {
	if opts.Name == "" {
		return nil, errors.New("handler: Options.Name is required")
	}
	if h == nil {
		return nil, errors.New("handler: nil Mux")
	}
	if err := opts.Limits.Check(); err != nil {
		return nil, fmt.Errorf("handler %s: %w", opts.Name, err)
	}
	setDefaults(&opts)
	if err := handlername.CheckInstance(opts.Instance); err != nil {
		return nil, fmt.Errorf("handler %s: %w", opts.Name, field.Prefix("instance", err))
	}
	if err := handlername.CheckLabels(opts.Labels); err != nil {
		return nil, fmt.Errorf("handler %s: %w", opts.Name, field.Prefix("labels", err))
	}
	jr, err := runnerJournal(opts)
	if err != nil {
		return nil, err
	}
	js, err := wire.ListenJobs(opts.Endpoint, opts.Limits, opts.Logger, opts.Wire...)
	if err != nil {
		jr.close()
		return nil, fmt.Errorf("handler %s: %w", opts.Name, err)
	}
	r := &runner{
		opts:    opts,
		mux:     h,
		js:      js,
		addr:    js.Addr(),
		logger:  opts.Logger.With("handler", opts.Name),
		slots:   make(chan struct{}, opts.Concurrency),
		journal: jr,
		scheds:  newSchedulers(opts.Scheduler, opts.Logger, append([]wire.Option{wire.WithLimits(opts.Limits)}, opts.Wire...)...),
		epoch:   time.Now(),
		// One token for the life of this process: a registration again
		// (the scheduler restarted) must not make the requests that the
		// scheduler queued under the previous one fail. A new process
		// has a new token.
		jobToken: wire.NewJobToken(),
		poke:     make(chan struct{}, 1),
	}
	r.newRunnerParts(context.Background())
	r.tokenRequired.Store(true) // until a scheduler without tokens registered us
	return &Server{r: r, started: make(chan struct{})}, nil
}

// Started is closed once Serve runs its loops; from then on Health means
// something.
func (s *Server) Started() <-chan struct{} { return s.started }

// Addr is the job socket's address as registered (the real port when the
// endpoint asked for port 0).
func (s *Server) Addr() string { return s.r.addr }

// Serve runs the handler until ctx is done (see the package function
// Serve). It may be called once; the socket is closed when it returns.
func (s *Server) Serve(ctx context.Context) error {
	if !s.served.CompareAndSwap(false, true) {
		return errors.New("handler: Serve called twice")
	}
	r, opts := s.r, s.r.opts
	r.values = context.WithoutCancel(ctx)
	defer r.deadlines.cancelAll()
	defer r.deadlines.stop()
	r.logger.Info("handler listening", "address", r.addr, "scheduler", opts.Scheduler, "concurrency", opts.Concurrency)

	r.recvAlive.Store(true)
	r.promise(opts.PingInterval) // the first registration starts now
	recvDone := make(chan struct{})
	go func() { defer close(recvDone); defer r.recvAlive.Store(false); r.js.Recv(r.serveMsg) }()
	aliveCtx, stopAlive := context.WithCancel(ctx)
	defer stopAlive()
	aliveDone := make(chan struct{})
	go func() { defer close(aliveDone); r.keepAlive(aliveCtx) }()
	writeDone := make(chan struct{})
	stopWrite := make(chan struct{})
	go func() { defer close(writeDone); r.js.Write(stopWrite) }()
	close(s.started)

	var fatal error
	select {
	case <-ctx.Done():
	case <-aliveDone:
		if e := r.refused.Load(); e != nil {
			fatal = *e
		}
	}
	r.admit.Lock()
	r.draining.Store(true)
	r.admit.Unlock()
	stopAlive()
	<-aliveDone
	// "stopping" first, so that the scheduler holds new jobs for the next
	// registration instead of sending them here to be refused; the
	// connection it reads replies on stays open (see scheduler.registry).
	reported := r.registered.Load() && r.report(opts.Name, StatusStopping)
	answeredAll := r.drain(r.deadlines.cancelAll)
	close(stopWrite) // the replies of the jobs that ended go out first
	<-writeDone
	if reported {
		r.report(opts.Name, StatusOffline)
	}
	if r.js.SayClosing(answeredAll) {
		r.js.Linger()
	}
	r.scheds.close()
	r.js.Close()
	<-recvDone
	r.pool.stop() // idle workers exit
	if err := r.journal.close(); err != nil {
		r.logger.Warn("journal not closed", "err", err)
	}
	r.logger.Info("handler stopped", "jobs_done", r.done.Load(), "jobs_failed", r.failed.Load())
	if fatal != nil {
		return fmt.Errorf("handler %s: %w", opts.Name, fatal)
	}
	return nil
}

// Health passes while the handler can do its job: the job socket is being
// read and the registration loop turns (it is waiting, or in a scheduler
// call that has not outlived its deadline). An unreachable scheduler is not
// a failure: restarting the handler would not bring it back, and the loop
// keeps trying to register. Health never blocks.
func (s *Server) Health(context.Context) error {
	r := s.r
	if !s.served.Load() {
		return fmt.Errorf("handler %s: not serving yet: %w", r.opts.Name, ErrUnhealthy)
	}
	if r.draining.Load() {
		return nil // stopping: the loops end on purpose
	}
	if !r.recvAlive.Load() {
		return fmt.Errorf("handler %s: the job socket is no longer read: %w", r.opts.Name, ErrUnhealthy)
	}
	if late := r.overdue(); late > 0 {
		return fmt.Errorf("handler %s: the registration loop is %v late: %w",
			r.opts.Name, late.Round(time.Millisecond), ErrUnhealthy)
	}
	return nil
}

// Status is a one-line live summary, e.g. "registered with
// ipc:///run/schedulezero/zmq.sock; 12 jobs done, 0 failed, 1 running".
func (s *Server) Status() string { return s.r.statusLine() }

// DefaultInstance is the instance id of a handler that sets none:
// HOST:NAME, the same at every restart, and one per host and name (give
// others on the same host their own Instance).
func DefaultInstance(name string) string {
	return hostname() + ":" + name
}

// hostname is the host's name as an instance id may hold it.
func hostname() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "localhost"
	}
	b := []byte(h)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			b[i] = '_'
		}
	}
	return string(b)
}

func setDefaults(o *Options) {
	if o.Instance == "" {
		o.Instance = DefaultInstance(o.Name)
	}
	if o.Endpoint == "" {
		o.Endpoint = DefaultEndpoint
	}
	if o.Scheduler == "" {
		o.Scheduler = DefaultScheduler
	}
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.PingInterval <= 0 {
		o.PingInterval = DefaultPingInterval
	}
	if o.ShutdownTimeout <= 0 {
		o.ShutdownTimeout = DefaultShutdownTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}
