package handler

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/schedulezero/schedulezero/pkg/wire"
)

type runner struct {
	opts   Options
	mux    *Mux
	js     *wire.JobServer // nil for a Local
	addr   string
	logger *slog.Logger
	scheds *schedulers

	// values is the context whose values every job's context has; it is
	// never canceled (deadlines cancels the jobs).
	values    context.Context
	deadlines *deadlines
	slots     chan struct{}
	// admit orders each jobs.Add against the drain's jobs.Wait: a job is
	// admitted under it only while draining is false, and draining is set
	// under it before the wait (sync.WaitGroup forbids an Add from zero
	// concurrent with Wait).
	admit    sync.Mutex
	jobs     sync.WaitGroup
	draining atomic.Bool

	mu sync.Mutex
	// flights are the admitted jobs with an execution id, by jobKey, from
	// admission until their reply is durable: a copy of one that arrives
	// meanwhile waits for the same reply, and sz.cancel finds it. Under mu.
	flights map[string]*task
	// disowned are the attempts answered unknown, by jobKey, and when
	// (disowned.go); under mu.
	disowned map[string]time.Time
	// journal (nil: none) remembers the replies of ended attempts.
	journal *journal

	// pool runs the jobs (workers.go).
	pool *workers

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

// serveMsg answers or starts the requests of one message from the peer at
// env (the job server's Recv calls it). Pings and cancels are answered at
// once; jobs run on workers. A protocol 3 frame may carry a batch of
// requests.
func (r *runner) serveMsg(env wire.Peer, frame []byte) {
	if reqs, ok := wire.DecodeBatch(frame); ok {
		for _, req := range reqs {
			r.handleRequest(env, req, true)
		}
		return
	}
	elems, err := wire.SplitBatch(frame)
	if err != nil {
		r.js.Reply(env, failureReply("", fmt.Errorf("invalid request: %w", err)), false)
		return
	}
	for _, b := range elems {
		r.handle(env, b, len(elems) > 1)
	}
}

// handle answers or starts one request. batched says the peer reads batch
// frames (it sent one, or its request says protocol 3).
func (r *runner) handle(env wire.Peer, b []byte, batched bool) {
	req, err := wire.DecodeRequest(b)
	if err != nil {
		r.js.Reply(env, failureReply(requestID(b), fmt.Errorf("invalid request: %w", err)), batched)
		return
	}
	r.handleRequest(env, req, batched)
}

// handleRequest answers or starts the decoded request req.
func (r *runner) handleRequest(env wire.Peer, req wire.Request, batched bool) {
	batched = batched || req.V >= wire.ProtocolBatched
	key := "" // the attempt's, built once for attach, takeOff and the job
	if req.ExecutionID != "" {
		key = jobKey(req.ExecutionID, req.Attempt)
	}
	switch {
	case req.Method == "ping":
		r.js.Reply(env, wire.EncodeReply(req.ID, map[string]any{"success": true, "message": "pong", "handler_id": r.opts.Name}), batched)
	case r.tokenRequired.Load() && !wire.JobTokenMatches(req.JobToken, r.jobToken):
		r.js.Reply(env, r.refuseToken(req), batched)
	case req.Method == wire.MethodCancel:
		r.js.Reply(env, r.cancel(req), batched)
	case req.Method == wire.MethodKnown:
		r.js.Reply(env, r.known(req), batched)
	case key != "" && r.attach(env, req, key, batched):
		// a copy of an attempt that ran or runs here: answered from it
	case !r.admitJob():
		r.js.Reply(env, notRunReply(req.ID, ErrShuttingDown), batched)
	default:
		t := r.newTask(env, req, key, batched)
		r.takeOff(t)
		r.pool.submit(t)
	}
}

// newRunnerParts sets the fields of r that both a Server and a Local
// build the same way.
func (r *runner) newRunnerParts(values context.Context) {
	r.values = values
	r.deadlines = newDeadlines()
	r.flights = map[string]*task{}
	r.pool = newWorkers(r.runJob)
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

func (r *runner) status() {
	if r.opts.StatusFunc != nil {
		r.opts.StatusFunc(r.statusLine())
	}
}

func (r *runner) statusLine() string {
	var state string
	switch {
	case r.refused.Load() != nil:
		state = "registration refused by " + r.scheds.endpoint()
	case r.schedulerOK.Load():
		state = "registered with " + r.scheds.endpoint()
	case r.registered.Load():
		state = "scheduler " + r.scheds.endpoint() + " unreachable, registering again"
	default:
		state = "registering with " + r.scheds.endpoint()
	}
	return fmt.Sprintf("%s; %d jobs done, %d failed, %d running",
		state, r.done.Load(), r.failed.Load(), r.active.Load())
}
