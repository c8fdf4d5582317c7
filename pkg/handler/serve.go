package handler

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zeromq/zmq4"
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
	// Scheduler is the scheduler's registration endpoint.
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
	// Limits bound what a peer of the job socket, or the scheduler's
	// registration server, may send; zero: the defaults of package wire.
	Limits wire.Limits
	Logger *slog.Logger
	// ReadyFunc is called once, when the socket is bound and the first
	// registration was accepted.
	ReadyFunc func()
	// StatusFunc, when set, receives a one-line live summary.
	StatusFunc func(string)
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
	sock := zmq4.NewRouter(context.Background(), opts.Limits.SocketOptions()...)
	if err := wire.Bind(sock, opts.Endpoint); err != nil {
		sock.Close()
		return nil, fmt.Errorf("handler %s: bind %q: %w", opts.Name, opts.Endpoint, err)
	}
	addr := opts.Endpoint
	if strings.HasPrefix(addr, "tcp://") && sock.Addr() != nil {
		addr = "tcp://" + sock.Addr().String()
	}
	r := &runner{
		opts:    opts,
		mux:     h,
		sock:    sock,
		addr:    addr,
		logger:  opts.Logger.With("handler", opts.Name),
		slots:   make(chan struct{}, opts.Concurrency),
		running: map[string]context.CancelFunc{},
		peers:   map[string]struct{}{},
		work:    make(chan jobReq),
		quit:    make(chan struct{}),
		outWake: make(chan struct{}, 1),
		client:  wire.NewClient(opts.Scheduler, opts.Logger, wire.WithLimits(opts.Limits)),
		epoch:   time.Now(),
		// One token for the life of this process: a registration again
		// (the scheduler restarted) must not make the requests that the
		// scheduler queued under the previous one fail. A new process
		// has a new token.
		jobToken: wire.NewJobToken(),
		poke:     make(chan struct{}, 1),
	}
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
	jobCtx, cancelJobs := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelJobs()
	r.jobCtx = jobCtx
	r.logger.Info("handler listening", "address", r.addr, "scheduler", opts.Scheduler, "concurrency", opts.Concurrency)

	r.recvAlive.Store(true)
	r.promise(opts.PingInterval) // the first registration starts now
	recvDone := make(chan struct{})
	go func() { defer close(recvDone); defer r.recvAlive.Store(false); r.recvLoop() }()
	aliveCtx, stopAlive := context.WithCancel(ctx)
	defer stopAlive()
	aliveDone := make(chan struct{})
	go func() { defer close(aliveDone); r.keepAlive(aliveCtx) }()
	writeDone := make(chan struct{})
	stopWrite := make(chan struct{})
	go func() { defer close(writeDone); r.writeLoop(stopWrite) }()
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
	answeredAll := r.drain(cancelJobs)
	close(stopWrite) // the replies of the jobs that ended go out first
	<-writeDone
	if reported {
		r.report(opts.Name, StatusOffline)
	}
	if r.sayClosing(answeredAll) {
		r.linger(closeQuiet, closeLinger)
	}
	r.client.Close()
	r.sock.Close()
	<-recvDone
	close(r.quit) // idle workers exit
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

func setDefaults(o *Options) {
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

type runner struct {
	opts   Options
	mux    *Mux
	sock   zmq4.Socket
	addr   string
	logger *slog.Logger
	client *wire.Client

	jobCtx context.Context
	slots  chan struct{}
	// admit orders each jobs.Add against the drain's jobs.Wait: a job is
	// admitted under it only while draining is false, and draining is set
	// under it before the wait (sync.WaitGroup forbids an Add from zero
	// concurrent with Wait).
	admit    sync.Mutex
	jobs     sync.WaitGroup
	draining atomic.Bool

	mu      sync.Mutex
	running map[string]context.CancelFunc

	// gate orders the recv loop's handling of each message against
	// sayClosing: once closing is set, what is read is dropped. peers are
	// the pipelining (DEALER) peers seen, under gate.
	gate     sync.Mutex
	closing  bool
	sayClose bool                // Closing was sent; a peer first heard from later gets it too
	peers    map[string]struct{} // by identity

	// Jobs are handed to idle workers (work), which wait workerIdle for
	// the next one; a job that finds none starts a new worker. A warm
	// worker has its stack grown already.
	work chan jobReq
	quit chan struct{} // closed when Serve returns

	// Replies to protocol 3 peers wait in outbox for writeLoop, which
	// sends those of one peer as one batch frame.
	outMu     sync.Mutex
	outbox    []outReply
	outClosed bool
	outWake   chan struct{}

	registered  atomic.Bool
	schedulerOK atomic.Bool // the last register or ping call succeeded

	// jobToken is sent in every registration; a job request must carry it
	// while tokenRequired, which is cleared only when the scheduler that
	// accepted the last registration said it speaks no job tokens (older
	// than protocol 4).
	jobToken      string
	tokenRequired atomic.Bool
	// tokenRefusals counts the requests refused for their job token since
	// the last log line about them (refusalLogAt, an offset from epoch).
	tokenRefusals atomic.Int64
	refusalLogAt  atomic.Int64
	// poke asks the registration loop to ping the scheduler now: a job
	// came with no or a stale token, which is what a scheduler restarted
	// from its store (it keeps no token) sends until we register again.
	poke                 chan struct{}
	active, done, failed atomic.Int64

	// refused holds the scheduler's refusal (an error wrapping
	// wire.ErrRefused) once it refused the registration; the loop then
	// ends and Serve returns it.
	refused atomic.Pointer[error]

	recvAlive atomic.Bool
	lastMsg   atomic.Int64 // when the last message after Closing was read, as an offset from epoch
	// backBy is when the registration loop promised to turn again, as an
	// offset from epoch on the monotonic clock (the one its timers and
	// systemd's watchdog use: a wall clock step must not fail Health).
	// Health fails once it is past.
	epoch  time.Time
	backBy atomic.Int64
}

// promise records that the registration loop will turn again within d
// (plus a second of slack for scheduling).
func (r *runner) promise(d time.Duration) {
	r.backBy.Store(int64(time.Since(r.epoch) + d + time.Second))
}

// overdue reports how long ago the registration loop should have turned
// (<= 0: it is on time).
func (r *runner) overdue() time.Duration {
	return time.Since(r.epoch) - time.Duration(r.backBy.Load())
}

// recvLoop reads requests until the socket is closed. Pings and cancels
// are answered at once; jobs run on workers. A protocol 3 frame may carry
// a batch of requests.
func (r *runner) recvLoop() {
	for {
		msg, err := r.sock.Recv()
		if err != nil {
			return
		}
		if len(msg.Frames) < 2 {
			continue
		}
		env := msg.Frames[:len(msg.Frames)-1]
		r.gate.Lock()
		if !r.closing {
			r.serveMsg(env, msg.Frames[len(msg.Frames)-1])
		} else {
			r.lastMsg.Store(int64(time.Since(r.epoch))) // for linger
			if r.sayClose && r.newPeer(env) {
				// First heard from after Closing went out (a scheduler
				// that dialed just now): dropped unread, and told so.
				r.send(env, wire.Closing)
			}
		}
		r.gate.Unlock()
	}
}

// serveMsg answers or starts the requests of one message from the peer at
// env. The caller holds r.gate.
func (r *runner) serveMsg(env [][]byte, frame []byte) {
	r.newPeer(env)
	if reqs, ok := wire.DecodeBatch(frame); ok {
		for _, req := range reqs {
			r.handleRequest(env, req, true)
		}
		return
	}
	elems, err := wire.SplitBatch(frame)
	if err != nil {
		r.reply(env, failureReply("", fmt.Errorf("invalid request: %w", err)), false)
		return
	}
	for _, b := range elems {
		r.handle(env, b, len(elems) > 1)
	}
}

// newPeer records the peer at env when it pipelines (a DEALER: no empty
// delimiter frame, unlike REQ) and reports whether it was not known. The
// caller holds r.gate.
func (r *runner) newPeer(env [][]byte) bool {
	if len(env) != 1 {
		return false
	}
	if _, seen := r.peers[string(env[0])]; seen {
		return false
	}
	r.peers[string(env[0])] = struct{}{}
	return true
}

// sayClosing makes the recv loop drop whatever it reads from now on and,
// when every job admitted was answered, sends wire.Closing to each
// pipelining peer: a request of theirs still without a reply was not read,
// so the scheduler may send it elsewhere instead of recording its outcome
// unknown. A job that ignored its cancellation may still answer, so then
// nothing is said.
func (r *runner) sayClosing(answeredAll bool) (said bool) {
	r.gate.Lock()
	defer r.gate.Unlock()
	r.closing = true
	r.sayClose = answeredAll
	if !answeredAll {
		return false
	}
	for id := range r.peers {
		r.send([][]byte{[]byte(id)}, wire.Closing)
	}
	return true
}

// After Closing, the socket stays open closeQuiet, and then until no
// message came for closeQuiet (at most closeLinger in all): a scheduler
// that dials in the meantime (one that restarted just now) gets Closing
// in answer to its first message instead of losing it unread with the
// socket, which it could only record as an unknown outcome.
const (
	closeQuiet  = 25 * time.Millisecond
	closeLinger = 250 * time.Millisecond
)

// linger waits, after Closing, as the constants above say.
func (r *runner) linger(quiet, limit time.Duration) {
	start := time.Since(r.epoch)
	for {
		now := time.Since(r.epoch)
		wait := max(start+quiet, time.Duration(r.lastMsg.Load())+quiet) - now
		if wait <= 0 || now-start >= limit {
			return
		}
		t := time.NewTimer(min(wait, start+limit-now))
		<-t.C
	}
}

// handle answers or starts one request. batched says the peer reads batch
// frames (it sent one, or its request says protocol 3).
func (r *runner) handle(env [][]byte, b []byte, batched bool) {
	req, err := wire.DecodeRequest(b)
	if err != nil {
		r.reply(env, failureReply(requestID(b), fmt.Errorf("invalid request: %w", err)), batched)
		return
	}
	r.handleRequest(env, req, batched)
}

// handleRequest answers or starts the decoded request req.
func (r *runner) handleRequest(env [][]byte, req wire.Request, batched bool) {
	batched = batched || req.V >= wire.ProtocolBatched
	switch {
	case req.Method == "ping":
		r.reply(env, encode(map[string]any{"success": true, "message": "pong", "handler_id": r.opts.Name}, req.ID), batched)
	case r.tokenRequired.Load() && !wire.JobTokenMatches(req.JobToken, r.jobToken):
		r.reply(env, r.refuseToken(req), batched)
	case req.Method == wire.MethodCancel:
		r.reply(env, r.cancel(req), batched)
	case !r.admitJob():
		r.reply(env, notRunReply(req.ID, ErrShuttingDown), batched)
	default:
		r.start(jobReq{env: env, req: req, batched: batched})
	}
}

// start hands the admitted job j to an idle worker, or to a new one.
func (r *runner) start(j jobReq) {
	select {
	case r.work <- j:
	default:
		go r.worker(j)
	}
}

// refusalLogGap spaces the log lines about refused job tokens: a flood of
// forged requests must not flood the journal.
const refusalLogGap = time.Second

// refuseToken answers a request whose job token is missing or wrong,
// without running it: "not_run", so that our scheduler, which may have
// restarted and lost the token, sends it again once we registered again,
// which the poke makes happen now. The log line says how many were
// refused since the last one.
func (r *runner) refuseToken(req wire.Request) []byte {
	reason := "job_token does not match this handler's registration"
	if req.JobToken == "" {
		reason = "job_token is missing"
	}
	n := r.tokenRefusals.Add(1)
	now := int64(time.Since(r.epoch))
	if last := r.refusalLogAt.Load(); (last == 0 || now-last >= int64(refusalLogGap)) && r.refusalLogAt.CompareAndSwap(last, now) {
		r.tokenRefusals.Add(-n)
		r.logger.Warn("job refused: not from the scheduler this handler registered with",
			"method", req.Method, "execution_id", req.ExecutionID, "reason", reason, "refused", n)
	}
	select {
	case r.poke <- struct{}{}:
	default:
	}
	return encode(map[string]any{"success": false, "not_run": true, "refused": true,
		"error": "job refused: " + reason + "; only the scheduler this handler registered with may send it jobs"}, req.ID)
}

// requestID is the "id" of a request that did not decode, when it has one,
// so that a pipelined peer can match the error to its call.
func requestID(b []byte) string {
	var v struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(b, &v)
	return v.ID
}

// jobReq is one admitted job and where its reply goes: to the peer at env,
// or, for an in-process call (Local), to done.
type jobReq struct {
	env     [][]byte
	req     wire.Request
	batched bool
	done    func(reply []byte)
}

// workerIdle is how long a worker waits for another job before it exits.
const workerIdle = 5 * time.Second

func (r *runner) worker(j jobReq) {
	idle := time.NewTimer(workerIdle)
	defer idle.Stop()
	for {
		r.runJob(j)
		idle.Reset(workerIdle)
		select {
		case j = <-r.work:
		case <-idle.C:
			return
		case <-r.quit:
			return
		}
	}
}

func jobKey(executionID string, attempt int) string {
	return executionID + "/" + strconv.Itoa(attempt)
}

func (r *runner) cancel(req wire.Request) []byte {
	var p struct {
		ExecutionID string `json:"execution_id"`
		Attempt     int    `json:"attempt"`
	}
	if err := json.Unmarshal(req.Params, &p); err != nil || p.ExecutionID == "" {
		return failureReply(req.ID, errors.New("sz.cancel: params.execution_id is required"))
	}
	r.mu.Lock()
	c, ok := r.running[jobKey(p.ExecutionID, p.Attempt)]
	r.mu.Unlock()
	if ok {
		c()
		r.logger.Info("job canceled by scheduler", "execution_id", p.ExecutionID, "attempt", p.Attempt)
	}
	return encode(map[string]any{"success": true, "canceled": ok}, req.ID)
}

func (r *runner) runJob(j jobReq) {
	defer r.jobs.Done()
	req := j.req
	job := &Job{Method: req.Method, Params: req.Params, ExecutionID: req.ExecutionID, Attempt: req.Attempt,
		ScheduleID: req.ScheduleID, Handler: r.opts.Name}
	// One context per job: a second, nested one would cost another
	// cancelCtx and its children map on every job.
	var ctx context.Context
	var cancel context.CancelFunc
	if req.DeadlineMS > 0 {
		job.Deadline = time.UnixMilli(req.DeadlineMS)
		ctx, cancel = context.WithDeadline(r.jobCtx, job.Deadline)
	} else {
		ctx, cancel = context.WithCancel(r.jobCtx)
	}
	defer cancel()
	if job.ExecutionID != "" {
		key := jobKey(job.ExecutionID, job.Attempt)
		r.mu.Lock()
		r.running[key] = cancel
		r.mu.Unlock()
		defer func() {
			r.mu.Lock()
			delete(r.running, key)
			r.mu.Unlock()
		}()
	}
	start := time.Now()
	result, err := r.serve(ctx, job)
	var out []byte
	if err != nil {
		r.failed.Add(1)
		if errors.Is(err, context.DeadlineExceeded) && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			err = Timeout(err) // the job's own deadline passed
		}
		out = failureReply(req.ID, err)
	} else {
		r.done.Add(1)
		out = successReply(req.ID, result)
	}
	if j.done != nil {
		j.done(out)
	} else {
		r.reply(j.env, out, j.batched)
	}
	if !r.logger.Enabled(context.Background(), slog.LevelInfo) {
		r.status()
		return
	}
	attrs := []any{"method", job.Method, "execution_id", job.ExecutionID, "attempt", job.Attempt,
		"duration_ms", time.Since(start).Milliseconds(), "ok", err == nil}
	if job.ScheduleID != "" {
		attrs = append(attrs, "schedule_id", job.ScheduleID)
	}
	if err != nil {
		attrs = append(attrs, "err", err)
	}
	r.logger.Info("job finished", attrs...)
	r.status()
}

// serve waits for a slot and runs the job's handler, turning a panic
// into an error.
func (r *runner) serve(ctx context.Context, job *Job) (result any, err error) {
	if !r.mux.has(job.Method) {
		return r.mux.ServeJob(ctx, job) // the unknown-method error, without a slot
	}
	select {
	case r.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("method %s: no free slot: %w", job.Method, ctx.Err())
	}
	r.active.Add(1)
	defer func() {
		r.active.Add(-1)
		<-r.slots
		if p := recover(); p != nil {
			err = fmt.Errorf("method %s panicked: %v", job.Method, p)
		}
	}()
	return r.mux.ServeJob(ctx, job)
}

// reply sends out to the peer at env: at once, or, to a peer that reads
// batch frames, through writeLoop.
func (r *runner) reply(env [][]byte, out []byte, batched bool) {
	if batched {
		r.outMu.Lock()
		if !r.outClosed {
			r.outbox = append(r.outbox, outReply{env: env, payload: out})
			r.outMu.Unlock()
			select {
			case r.outWake <- struct{}{}:
			default: // writeLoop is awake already
			}
			return
		}
		r.outMu.Unlock()
	}
	r.send(env, out)
}

func (r *runner) send(env [][]byte, frame []byte) {
	frames := make([][]byte, 0, len(env)+1)
	frames = append(frames, env...)
	frames = append(frames, frame)
	if err := r.sock.Send(zmq4.NewMsgFrom(frames...)); err != nil {
		r.logger.Warn("reply not sent", "err", err)
	}
}

// outReply is a reply waiting for writeLoop.
type outReply struct {
	env     [][]byte
	payload []byte
}

// writeLoop sends the queued replies until stop is closed, then sends what
// is left and makes later replies go out directly. Replies queued while a
// send is in the kernel go out together, up to wire.MaxBatch per frame, so
// a busy handler makes a write per batch, not per job.
func (r *runner) writeLoop(stop <-chan struct{}) {
	var taken []outReply
	var msgs [][]byte
	flush := func() {
		for {
			r.outMu.Lock()
			taken, r.outbox = r.outbox, taken[:0]
			r.outMu.Unlock()
			if len(taken) == 0 {
				return
			}
			for len(taken) > 0 {
				// The first reply's peer, and every queued reply to it.
				peer := taken[0].env
				msgs = msgs[:0]
				rest := taken[:0]
				size := 0
				for _, o := range taken {
					// A batch stays below wire.MaxBatchBytes unless one
					// reply alone is larger: it must fit the scheduler's
					// maximum message size whenever each reply does.
					if len(msgs) < wire.MaxBatch && (len(msgs) == 0 || size+len(o.payload) <= wire.MaxBatchBytes) &&
						slices.EqualFunc(o.env, peer, bytes.Equal) {
						size += len(o.payload)
						msgs = append(msgs, o.payload)
					} else {
						rest = append(rest, o)
					}
				}
				r.send(peer, wire.AppendBatch(nil, msgs))
				clear(taken[len(rest):])
				taken = rest
			}
		}
	}
	for {
		select {
		case <-r.outWake:
			flush()
		case <-stop:
			r.outMu.Lock()
			r.outClosed = true
			r.outMu.Unlock()
			flush()
			return
		}
	}
}

// The statuses a runner reports as it stops: "stopping" when it stops
// taking jobs, "offline" once the last reply went out.
const (
	StatusStopping = "stopping"
	StatusOffline  = "offline"
)

// report tells the scheduler the handler's status and reports whether it
// was heard; a scheduler that cannot be reached costs at most 2 s.
func (r *runner) report(name, status string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := r.client.ReportStatus(ctx, name, status); err != nil {
		r.logger.Warn("report status failed", "status", status, "err", err)
		return false
	}
	return true
}

// admitJob counts a job in unless the runner is draining.
func (r *runner) admitJob() bool {
	r.admit.Lock()
	defer r.admit.Unlock()
	if r.draining.Load() {
		return false
	}
	r.jobs.Add(1)
	return true
}

// drain waits for the admitted jobs, cancels them after ShutdownTimeout,
// and reports whether they all ended (and so were answered).
func (r *runner) drain(cancelJobs context.CancelFunc) bool {
	done := make(chan struct{})
	go func() { r.jobs.Wait(); close(done) }()
	t := time.NewTimer(r.opts.ShutdownTimeout)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
	}
	r.logger.Warn("jobs still running at shutdown timeout; canceling", "running", r.active.Load())
	cancelJobs()
	t.Reset(2 * time.Second)
	select {
	case <-done:
		return true
	case <-t.C:
		r.logger.Error("jobs ignored cancellation; abandoning them", "running", r.active.Load())
		return false
	}
}

// keepAlive registers, then pings every PingInterval and registers again
// when a ping fails or the scheduler restarted.
func (r *runner) keepAlive(ctx context.Context) {
	var readyOnce sync.Once
	backoff := 100 * time.Millisecond
	reg := wire.Registration{HandlerID: r.opts.Name, Address: r.addr, Methods: r.mux.Methods(),
		Protocol: wire.ProtocolJobToken, Concurrency: r.opts.Concurrency, Secret: r.opts.Secret, JobToken: r.jobToken}
	callTimeout := min(r.opts.PingInterval, 10*time.Second)
	pokeGap := min(time.Second, r.opts.PingInterval) // pokes ping at most this often
	var lastCall time.Time
	wait := func(d time.Duration) bool {
		r.promise(d)
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			return true
		case <-r.poke:
		}
		if gap := pokeGap - time.Since(lastCall); gap > 0 {
			r.promise(gap)
			t.Reset(gap)
			select {
			case <-ctx.Done():
				return false
			case <-t.C:
			}
		}
		return true
	}
	ok := false
	for {
		if !ok {
			r.promise(callTimeout)
			lastCall = time.Now()
			rctx, cancel := context.WithTimeout(ctx, callTimeout)
			status, err := r.client.Register(rctx, reg)
			cancel()
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				r.schedulerOK.Store(false)
				if errors.Is(err, wire.ErrRefused) {
					// A wrong or missing secret: retrying cannot help, and a
					// handler that exits with the reason shows up as a failed
					// unit instead of one that never becomes ready.
					refusal := fmt.Errorf("registration refused by %s: %w", r.opts.Scheduler, err)
					r.refused.Store(&refusal)
					r.status()
					return
				}
				r.status()
				r.logger.Warn("registration failed; retrying", "scheduler", r.opts.Scheduler, "err", err, "retry_in", backoff)
				if !wait(backoff) {
					return
				}
				backoff = min(backoff*2, r.opts.PingInterval)
				continue
			}
			ok = true
			backoff = 100 * time.Millisecond
			r.requireToken(r.client.SchedulerProtocol())
			r.registered.Store(true)
			r.schedulerOK.Store(true)
			r.logger.Info("registered with scheduler", "scheduler", r.opts.Scheduler, "status", status)
			r.status()
			if r.opts.ReadyFunc != nil {
				readyOnce.Do(r.opts.ReadyFunc)
			}
		}
		if !wait(r.opts.PingInterval) {
			return
		}
		r.promise(callTimeout)
		lastCall = time.Now()
		pctx, cancel := context.WithTimeout(ctx, callTimeout)
		err := r.client.Ping(pctx)
		cancel()
		if err != nil && ctx.Err() == nil {
			r.logger.Warn("scheduler ping failed; registering again", "scheduler", r.opts.Scheduler, "err", err)
			ok = false
			r.schedulerOK.Store(false)
			r.status()
		}
	}
}

// requireToken decides, after a registration, whether job requests must
// carry the job token: yes, unless the scheduler that accepted it speaks
// an older protocol, which sends none (it did not answer "protocol" 4).
func (r *runner) requireToken(schedulerProtocol int) {
	need := schedulerProtocol >= wire.ProtocolJobToken
	if r.tokenRequired.Swap(need) != need && !need {
		r.logger.Warn("the scheduler sends no job tokens (protocol older than 4): anyone who can reach the job socket can run jobs; upgrade the scheduler",
			"scheduler", r.opts.Scheduler, "address", r.addr)
	}
}

func (r *runner) status() {
	if r.opts.StatusFunc != nil {
		r.opts.StatusFunc(r.statusLine())
	}
}

func (r *runner) statusLine() string {
	var state string
	switch {
	case r.refused.Load() != nil:
		state = "registration refused by " + r.opts.Scheduler
	case r.schedulerOK.Load():
		state = "registered with " + r.opts.Scheduler
	case r.registered.Load():
		state = "scheduler " + r.opts.Scheduler + " unreachable, registering again"
	default:
		state = "registering with " + r.opts.Scheduler
	}
	return fmt.Sprintf("%s; %d jobs done, %d failed, %d running",
		state, r.done.Load(), r.failed.Load(), r.active.Load())
}

// successReply is {"success":true,...result}: an object result is merged,
// any other result goes under "result".
func successReply(id string, result any) []byte {
	m := map[string]any{}
	if result != nil {
		b, err := json.Marshal(result)
		if err != nil {
			return failureReply(id, fmt.Errorf("result is not JSON: %w", err))
		}
		if out, ok := spliceReply(id, b); ok {
			return out
		}
		var obj map[string]json.RawMessage
		if len(b) > 0 && b[0] == '{' && json.Unmarshal(b, &obj) == nil {
			for k, v := range obj {
				m[k] = v
			}
		} else {
			m["result"] = json.RawMessage(b)
		}
	}
	m["success"] = true
	delete(m, "error")
	return encode(m, id)
}

// spliceReply is successReply's fast path for the common result, an object
// that names none of the reply's own keys: the object with "success" and
// "id" put in front, without decoding and re-encoding it. obj is
// json.Marshal's output, which is compact, so a key is always preceded by
// '{' or ',' and followed by ':', and inside a string value a quote is
// escaped: looking for `{"id":` and `,"id":` finds every top-level "id" key
// (and nested ones too, which only costs the slow path).
func spliceReply(id string, obj []byte) ([]byte, bool) {
	if len(obj) < 2 || obj[0] != '{' || hasKey(obj, "success") || hasKey(obj, "error") || hasKey(obj, "id") {
		return nil, false
	}
	out := make([]byte, 0, len(obj)+32+len(id))
	out = append(out, `{"success":true`...)
	if id != "" {
		q, err := json.Marshal(id)
		if err != nil {
			return nil, false
		}
		out = append(out, `,"id":`...)
		out = append(out, q...)
	}
	if rest := bytes.TrimSpace(obj[1:]); len(rest) > 0 && rest[0] != '}' {
		out = append(out, ',')
		out = append(out, rest...)
	} else {
		out = append(out, '}')
	}
	return out, true
}

// hasKey reports whether compact JSON obj may have key at some level.
func hasKey(obj []byte, key string) bool {
	for i := 0; ; {
		j := bytes.Index(obj[i:], []byte(key))
		if j < 0 {
			return false
		}
		j += i
		if j >= 2 && j+len(key)+1 < len(obj) && obj[j-1] == '"' && (obj[j-2] == '{' || obj[j-2] == ',') &&
			obj[j+len(key)] == '"' && obj[j+len(key)+1] == ':' {
			return true
		}
		i = j + 1
	}
}

// failureReply is {"success":false,"error":...}, with "retry":false for a
// Permanent error, "timeout":true for a Timeout one, and the fields of a
// ResultError's result.
func failureReply(id string, err error) []byte {
	m := map[string]any{}
	var re ResultError
	if errors.As(err, &re) {
		if b, e := json.Marshal(re.Result()); e == nil {
			var obj map[string]json.RawMessage
			if json.Unmarshal(b, &obj) == nil {
				for k, v := range obj {
					m[k] = v
				}
			}
		}
	}
	m["success"] = false
	m["error"] = err.Error()
	if IsPermanent(err) {
		m["retry"] = false
	}
	if IsTimeout(err) {
		m["timeout"] = true
	}
	return encode(m, id)
}

// notRunReply is a failure with "not_run":true: the job was refused
// before it started, so the scheduler may send it again, in the same
// attempt, to this handler's next registration.
func notRunReply(id string, err error) []byte {
	return encode(map[string]any{"success": false, "error": err.Error(), "not_run": true}, id)
}

func encode(m map[string]any, id string) []byte {
	if id != "" {
		m["id"] = id
	}
	b, err := json.Marshal(m)
	if err != nil {
		return []byte(`{"success":false,"error":"reply is not JSON"}`)
	}
	return b
}
