package scheduler

import (
	"container/heap"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/schedulezero/schedulezero/pkg/event"
	"github.com/schedulezero/schedulezero/pkg/store"
	"github.com/schedulezero/schedulezero/pkg/trigger"
	"github.com/schedulezero/schedulezero/pkg/wire"
)

// Defaults for Options and policy fields left zero.
const (
	DefaultTimeout      = 60 * time.Second
	DefaultMaxAttempts  = 3
	DefaultBackoffBase  = time.Second
	DefaultBackoffMax   = 5 * time.Minute
	DefaultGraceTime    = time.Second
	DefaultMisfireLimit = 100
	DefaultQueueLimit   = 10

	// maxMissedRecords bounds the missed records one catch-up writes; the
	// rest are summed up in one more record and in the schedule's count.
	maxMissedRecords = 1000
	// fireQuantum is the shortest time between two of the timer loop's
	// firing turns: fires due closer together than that are fired
	// together, at most this late. Sparse fires are not delayed (the loop
	// sleeps until each is due), but with 10,000 schedules every 200 ms a
	// wake-up per fire (tens of thousands a second, each a context switch)
	// was most of the scheduler's CPU when their handler was gone.
	fireQuantum = 250 * time.Microsecond
	// backpressureBatches is how many full group commits may wait in the
	// store's queue before the timer loop waits for them.
	backpressureBatches = 4
	// maxEnumerate bounds how many past occurrences one catch-up walks.
	maxEnumerate = 1_000_000
	// DefaultMaxInFlight bounds the executions in flight (fired and not
	// yet ended). Each holds its record, its call and, when it waits, a
	// goroutine: under overload they, not the schedules, were most of the
	// scheduler's memory. Fires beyond the bound wait in the heap as due
	// times. At 30,000 executions a second and ~20 ms each from fire to
	// durable result, about 600 are in flight: the bound leaves room.
	DefaultMaxInFlight = 2048
)

// Options configure a Scheduler.
type Options struct {
	Store              *store.DB
	Logger             *slog.Logger
	Location           *time.Location // the zone of schedules that name none; default time.Local
	DefaultTimeout     time.Duration  // per attempt
	DefaultMaxAttempts int
	BackoffBase        time.Duration // first retry delay; doubled per attempt, with jitter
	BackoffMax         time.Duration
	// NowFunc is the clock; tests may replace it. Default time.Now.
	NowFunc func() time.Time
	// DialFunc opens connections to handlers; default: the ZeroMQ wire,
	// holding handlers to WireLimits.
	DialFunc DialFunc
	// WireLimits bound what a handler may send on its job connection;
	// zero: the defaults of package wire.
	WireLimits wire.Limits
	// LatenessFunc, when set, observes each fire: the schedule's handler
	// and how late the due occurrence was picked up by the engine (metrics
	// and benchmarks use it).
	LatenessFunc func(handlerID string, late time.Duration)
	// HandlerSecrets are the handlers' registration secrets, checked by
	// Registry (a wire.Authenticator); nil checks none.
	HandlerSecrets *wire.HandlerSecrets
	// MinInterval is the floor of a schedule's repetition: a trigger whose
	// consecutive fires can be closer is refused. Default
	// trigger.DefaultMinInterval; negative: no floor (tests).
	MinInterval time.Duration
	// EventObservers are called synchronously for every engine event, in
	// order; they must be cheap and never block (see package event).
	EventObservers []event.Observer
	// EventRing is how many recent events the hub keeps for subscribers
	// that resume; default event.DefaultRing.
	EventRing int
	// RecoveryWait bounds, after a restart, the wait for the handler of an
	// attempt found running, to ask it whether it ran it (resume); zero:
	// DefaultRecoveryWait.
	RecoveryWait time.Duration
	// MaxInFlight bounds the executions in flight that took a handler
	// slot when they fired; a fire due while that many are waits (and is
	// late, handled by the misfire policy) until one ends. Executions
	// queued for a busy handler's slot do not count. Zero:
	// DefaultMaxInFlight.
	MaxInFlight int
	// OnRecovery, when set, hears the answer of each handler asked about
	// an attempt after a restart: wire.KnownFinished (recorded from its
	// journal), KnownRunning (attached to), KnownUnknown (retried by
	// policy), or "no_answer". A hook for a metrics counter.
	OnRecovery func(handlerID, answer string)
}

// Scheduler is the engine. Create it with New, then Start it; Stop ends it.
type Scheduler struct {
	opts   Options
	db     *store.DB
	reg    *registry
	logger *slog.Logger
	ids    idSource
	events *event.Hub

	mu        sync.Mutex
	entries   entryTable
	heap      fireHeap
	running   map[string]*execution // by execution id
	startedAt time.Time
	stopping  bool        // set under mu by Stop: nothing new is launched
	lastGate  *commitGate // the newest commit queued, under mu
	// throttled is set under mu when the loop left due fires in the heap
	// because MaxInFlight executions were in flight; finishedLocked wakes
	// it once there is room.
	throttled bool
	// bounded counts the executions in flight that took a handler slot at
	// fire time (execution.bounded), under mu. Those waiting for a slot
	// are not counted: a slow handler's queue must not stop the fires of
	// every other handler, and it is bounded by its schedules' overlap
	// policies, not by this.
	bounded int

	// Entries with skips not written yet, and when flushSkipsLocked is due
	// (zero: nothing waits), under mu.
	dirty   []*entry
	flushAt time.Time

	// The launch's, the fast path's and the slot queue's queues
	// (launch.go, async.go, slotwait.go): durable commits whose
	// executions are to be launched, fast executions whose result commit
	// ended, and slots handed to first attempts that waited for one.
	dispatches  drainer[*commitGate]
	completions drainer[completion]
	granted     drainer[slotGrant]

	wake      chan struct{}
	heartbeat chan chan struct{}
	stopLoop  chan struct{}
	loopDone  chan struct{}
	started   atomic.Bool
	stopOnce  sync.Once
	stalled   atomic.Bool

	// waitCtx ends, at the start of Stop, every wait that precedes a send
	// (for a handler, a backoff, a random delay): an attempt not yet sent
	// stays pending in the store and is dispatched after the restart, so
	// Stop does not spend its budget on it. Calls in flight get the budget.
	waitCtx    context.Context
	waitCancel context.CancelFunc

	// afterClaim, when set (by tests), runs each time claimLocked took a
	// handler slot, under s.mu.
	afterClaim func()
	// newAlarm makes the timer loop's alarm: newAlarm, or in tests whose
	// clock the runtime simulates (testing/synctest), a timerAlarm.
	newAlarm func(wake func()) alarm

	// execCtx ends every execution goroutine on Stop; execWG waits for them.
	execCtx    context.Context
	execCancel context.CancelFunc
	execWG     sync.WaitGroup
}

// New loads the schedules and handlers from the store. It does not fire
// anything until Start.
func New(ctx context.Context, opts Options) (*Scheduler, error) {
	if opts.Store == nil {
		return nil, errors.New("scheduler: Options.Store is required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Location == nil {
		opts.Location = time.Local
	}
	if opts.DefaultTimeout <= 0 {
		opts.DefaultTimeout = DefaultTimeout
	}
	if opts.DefaultMaxAttempts <= 0 {
		opts.DefaultMaxAttempts = DefaultMaxAttempts
	}
	if opts.BackoffBase <= 0 {
		opts.BackoffBase = DefaultBackoffBase
	}
	if opts.BackoffMax <= 0 {
		opts.BackoffMax = DefaultBackoffMax
	}
	if opts.NowFunc == nil {
		opts.NowFunc = time.Now
	}
	if opts.MaxInFlight <= 0 {
		opts.MaxInFlight = DefaultMaxInFlight
	}
	if opts.MinInterval == 0 {
		opts.MinInterval = trigger.DefaultMinInterval
	}
	if opts.DialFunc == nil {
		opts.DialFunc = WireDial(opts.Logger.With("component", "wire"), opts.WireLimits)
	}
	execCtx, execCancel := context.WithCancel(context.Background())
	waitCtx, waitCancel := context.WithCancel(execCtx)
	s := &Scheduler{
		opts:       opts,
		db:         opts.Store,
		logger:     opts.Logger.With("component", "engine"),
		entries:    newEntryTable(),
		running:    make(map[string]*execution),
		wake:       make(chan struct{}, 1),
		heartbeat:  make(chan chan struct{}),
		stopLoop:   make(chan struct{}),
		loopDone:   make(chan struct{}),
		execCtx:    execCtx,
		execCancel: execCancel,
		waitCtx:    waitCtx,
		waitCancel: waitCancel,
		events:     event.NewHub(opts.EventRing, opts.EventObservers...),
		newAlarm:   newAlarm,
	}
	s.dispatches.fn = func(gates []*commitGate) {
		for _, g := range gates {
			s.dispatch(g)
		}
	}
	s.completions.fn = s.complete
	s.granted.fn = s.startGranted
	s.reg = newRegistry(opts.Store, opts.Logger.With("component", "registry"), opts.NowFunc, opts.DialFunc)
	s.reg.secrets = opts.HandlerSecrets
	s.reg.emit = s.events.Publish
	if err := s.reg.load(ctx); err != nil {
		execCancel()
		return nil, err
	}
	// The triggers are compiled when they first fire (triggerLocked); the
	// heap needs only the next fire times, and is built in one pass.
	// The records are views of the store's pages: newEntry copies.
	err := s.db.EachScheduleView(ctx, func(rec store.Schedule) error {
		e := newEntry(rec, nil)
		s.entries.put(e)
		if !rec.Paused && !rec.Done && !rec.NextFire.IsZero() {
			e.index = int32(len(s.heap))
			s.heap = append(s.heap, e)
		}
		return nil
	})
	// What the engine keeps as long as it runs is sized to the load, not
	// to the growth that reached it (docs/performance.md, Memory): the
	// grown ones are start-up's garbage, returned after READY=1.
	s.entries.fit()
	s.heap = slices.Clone(s.heap)
	heap.Init(&s.heap)
	if err != nil {
		execCancel()
		s.reg.close()
		return nil, fmt.Errorf("load schedules: %w", err)
	}
	return s, nil
}

func (s *Scheduler) now() time.Time { return s.opts.NowFunc() }

func (s *Scheduler) location(name string) (*time.Location, error) {
	if name == "" {
		return s.opts.Location, nil
	}
	return time.LoadLocation(name)
}

// triggerLocked returns e's compiled trigger, compiling it the first time.
// A trigger that does not compile leaves the schedule kept (and shown) but
// out of the heap, never to fire; that is said loudly, once.
func (s *Scheduler) triggerLocked(e *entry) (trigger.Trigger, bool) {
	if e.trigger() == nil && !e.broken {
		trig, err := s.compile(e.record())
		if err != nil {
			s.logger.Error("schedule trigger does not compile; it will not fire", "schedule_id", e.rec.ID(), "err", err)
			e.broken = true
			s.heap.place(e)
		}
		e.setTrigger(trig)
	}
	trig := e.trigger()
	return trig, trig != nil
}

// compile turns a stored schedule's normalized trigger back into a Trigger.
func (s *Scheduler) compile(rec store.Schedule) (trigger.Trigger, error) {
	loc, err := s.location(rec.Timezone)
	if err != nil {
		return nil, fmt.Errorf("schedule %q: timezone: %w", rec.ID, err)
	}
	trig, err := trigger.Compile(rec.Trigger, rec.CreatedAt, loc)
	if err != nil {
		return nil, fmt.Errorf("schedule %q: trigger: %w", rec.ID, err)
	}
	// A schedule stored before the floor existed, or under a lower one,
	// would keep the engine busy. Only intervals are checked here: the
	// check is free for them, and crons cannot go below a second.
	if iv, ok := trig.(trigger.Interval); ok {
		if err := trigger.CheckMin(iv, rec.CreatedAt, s.opts.MinInterval); err != nil {
			return nil, fmt.Errorf("schedule %q: %w; edit its trigger or lower the scheduler's minimum interval", rec.ID, err)
		}
	}
	return trig, nil
}

// Registry is what the registration server serves.
func (s *Scheduler) Registry() wire.Registry { return s.reg }

func (s *Scheduler) attempts(n int) int {
	if n <= 0 {
		return s.opts.DefaultMaxAttempts
	}
	return n
}

func (s *Scheduler) timeout(d time.Duration) time.Duration {
	if d <= 0 {
		return s.opts.DefaultTimeout
	}
	return d
}

// paramsJSON returns params as a JSON object, {} when empty.
func paramsJSON(p json.RawMessage) json.RawMessage {
	if len(p) == 0 {
		return json.RawMessage("{}")
	}
	return p
}
