package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Defaults used when the corresponding Options field is zero.
const (
	DefaultOpenTimeout   = time.Second
	DefaultPruneInterval = time.Minute
	DefaultMaxBatch      = 2000
	DefaultLinger        = 2 * time.Millisecond
)

// Options configures Open. The zero value is usable.
type Options struct {
	// OpenTimeout bounds the wait for the file lock; a lock still held by
	// another process (or another DB in this process) after it fails Open
	// with ErrInUse. Default DefaultOpenTimeout.
	OpenTimeout time.Duration
	// NoSync skips fsync on commit. Only for tests and benchmarks: a crash
	// may then lose acknowledged writes.
	NoSync bool
	// Retention bounds the execution history; see Prune.
	Retention Retention
	// PruneInterval is how often Open's background goroutine applies
	// Retention. Default DefaultPruneInterval; no goroutine runs when
	// Retention is zero.
	PruneInterval time.Duration
	// MaxBatch caps the records (executions, schedules and schedule
	// deletions) applied in one group commit. Default DefaultMaxBatch.
	MaxBatch int
	// Linger is how long a write queued with CommitLazy may wait for
	// another write to share its transaction. Default DefaultLinger.
	Linger time.Duration
	// Logger receives background errors (group-commit fallbacks, pruning).
	// Default: discard.
	Logger *slog.Logger
	// CommitFunc, when set, is told of every group-commit transaction: how
	// many records it applied and how long it took, fsync included. It is
	// called on the committer goroutine and must be cheap (metrics).
	CommitFunc func(records int, took time.Duration)
	// VisitFunc, when set, is called with the bucket's name each time a
	// listing's cursor steps onto a record (ScheduleIDs, EachSchedule,
	// ListExecutions): tests count them to hold a page's cost to its size.
	VisitFunc func(bucket string)
	// Replicator, when set, receives the write set of every commit before
	// its writers are told (replica.go; cluster mode).
	Replicator Replicator

	// mergeRecentAt is how many entries idx_schedule_recent may hold
	// before the committer merges them, and mergeChunk how many one
	// transaction of a merge moves; tests lower them. mergeHook, when set,
	// is called before each chunk's transaction; an error it returns cuts
	// the merge short, as a crash would.
	mergeRecentAt int
	mergeChunk    int
	mergeHook     func(chunk int) error
	// mergeStatesAt, stateChunk and stateMergeHook are the same for
	// schedule_state_log (statelog.go); keepStateLog leaves it unmerged
	// at Open and Close, as a crash would.
	mergeStatesAt  int
	stateChunk     int
	stateMergeHook func(chunk int) error
	keepStateLog   bool
	// batchHook, when set, sees each group commit's batch before its
	// transaction: tests judge what one transaction holds.
	batchHook func(batch []*request)
}

// Retention bounds the execution history. A zero field means unlimited.
// Unfinished attempts (pending, running) are never pruned.
type Retention struct {
	// MaxCount is the maximum number of attempt records kept.
	MaxCount int
	// MaxAge removes finished attempts whose last timestamp (completed,
	// else started, else scheduled) is older than now minus MaxAge.
	MaxAge time.Duration
}

func (r Retention) zero() bool { return r.MaxCount <= 0 && r.MaxAge <= 0 }

// DB is an open store file. Its methods are safe for concurrent use.
type DB struct {
	path string
	opts Options
	log  *slog.Logger
	bolt *bolt.DB

	// group commit queue (see commit.go)
	mu      sync.Mutex
	cond    *sync.Cond
	queue   []*request
	queued  int // records in queue
	urgent  int // requests in queue not queued by CommitLazy
	linger  *time.Timer
	closing bool
	closed  chan struct{} // closed when Close has finished

	// recentN counts the entries in idx_schedule_recent (deleted ones
	// included until the next merge); the committer owns it.
	recentN int
	// mergePeak is the most index keys a merge held at once (tests).
	mergePeak int
	// stateN counts the entries in schedule_state_log, statePeak the most
	// a merge of them held at once (tests); the committer owns both.
	stateN    int
	statePeak int
	// exclusive is held by a merge for all its transactions, and by every
	// write outside the group commit (update), which thus waits for a
	// merge to end rather than run between two of its transactions.
	exclusive sync.Mutex

	wg         sync.WaitGroup // committer and pruner
	stopPruner context.CancelFunc
}

// Open opens (creating if needed) the store file at path, brings its schema
// up to date and starts the group committer. It fails with ErrInUse when
// another process holds the file for longer than opts.OpenTimeout, and with
// ErrNewerSchema when the file was written by a newer build.
func Open(path string, opts Options) (*DB, error) {
	if opts.OpenTimeout <= 0 {
		opts.OpenTimeout = DefaultOpenTimeout
	}
	if opts.PruneInterval <= 0 {
		opts.PruneInterval = DefaultPruneInterval
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = DefaultMaxBatch
	}
	if opts.Linger <= 0 {
		opts.Linger = DefaultLinger
	}
	if opts.mergeRecentAt <= 0 {
		opts.mergeRecentAt = defaultMergeRecentAt
	}
	if opts.mergeChunk <= 0 {
		opts.mergeChunk = defaultMergeChunk
	}
	if opts.mergeStatesAt <= 0 {
		opts.mergeStatesAt = defaultMergeStatesAt
	}
	if opts.stateChunk <= 0 {
		opts.stateChunk = defaultStateChunk
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	bdb, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout: opts.OpenTimeout,
		NoSync:  opts.NoSync,
		// The hashmap freelist keeps commits O(1) in the number of free
		// pages as history is pruned.
		FreelistType: bolt.FreelistMapType,
		// Not writing the freelist saves pages on every commit; Open
		// rebuilds it by walking the file instead (as etcd does).
		NoFreelistSync: true,
	})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("open %s: %w", path, ErrInUse)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if err := bdb.Update(migrate); err != nil {
		_ = bdb.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	db := &DB{
		path:   path,
		opts:   opts,
		log:    opts.Logger.With("component", "store"),
		bolt:   bdb,
		closed: make(chan struct{}),
	}
	db.cond = sync.NewCond(&db.mu)
	db.linger = time.AfterFunc(time.Hour, func() {
		db.mu.Lock()
		db.cond.Broadcast()
		db.mu.Unlock()
	})
	db.linger.Stop()
	if err := bdb.View(func(tx *bolt.Tx) error {
		db.recentN = tx.Bucket(bucketRecent).Stats().KeyN
		db.stateN = tx.Bucket(bucketStateLog).Stats().KeyN
		return nil
	}); err != nil {
		_ = bdb.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	// What a crash left in the firing-state log is merged before anything
	// reads the schedules (readers would see it anyway, at the cost of a
	// scan of the log); a failure leaves it for the committer.
	if db.stateN > 0 && !opts.keepStateLog {
		db.mergeStates()
	}
	db.wg.Add(1)
	go db.committer()
	if !opts.Retention.zero() {
		ctx, cancel := context.WithCancel(context.Background())
		db.stopPruner = cancel
		db.wg.Add(1)
		go db.pruner(ctx)
	}
	return db, nil
}

// Path returns the file the DB was opened from.
func (db *DB) Path() string { return db.path }

// Close completes every queued group commit, stops the background
// goroutines and closes the file. Calls after the first return nil.
func (db *DB) Close() error {
	db.mu.Lock()
	if db.closing {
		db.mu.Unlock()
		<-db.closed
		return nil
	}
	db.closing = true
	db.cond.Broadcast()
	db.mu.Unlock()
	if db.stopPruner != nil {
		db.stopPruner()
	}
	db.wg.Wait()
	db.linger.Stop()
	err := db.bolt.Close()
	if err != nil {
		err = fmt.Errorf("close %s: %w", db.path, err)
	}
	close(db.closed)
	return err
}

// Check verifies the file's page structure (bbolt's tx.Check). It runs in a
// write transaction although it writes nothing: tx.Check reads the
// freelist, which a concurrent writer changes (the race detector catches it
// with the hashmap freelist), and bbolt admits one writer at a time. It
// costs time proportional to the file size.
func (db *DB) Check(ctx context.Context) error {
	return db.update(ctx, func(tx *bolt.Tx) error {
		var errs []error
		for err := range tx.Check() {
			errs = append(errs, err)
		}
		if len(errs) > 0 {
			return fmt.Errorf("check %s: %w", db.path, errors.Join(errs...))
		}
		return nil
	})
}

func (db *DB) pruner(ctx context.Context) {
	defer db.wg.Done()
	t := time.NewTicker(db.opts.PruneInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			n, err := db.Prune(ctx, now)
			if err != nil && ctx.Err() == nil {
				db.log.Error("prune execution history", "err", err)
			} else if n > 0 {
				db.log.Debug("pruned execution history", "records", n)
			}
		}
	}
}

// view runs fn in a read transaction after checking ctx.
func (db *DB) view(ctx context.Context, fn func(*bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return mapClosed(db.bolt.View(fn))
}

// update runs fn in a write transaction (committed and fsynced on return)
// after checking ctx. It waits for a merge of the recent index to end (see
// mergeRecent).
func (db *DB) update(ctx context.Context, fn func(*bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	db.exclusive.Lock()
	defer db.exclusive.Unlock()
	return mapClosed(db.bolt.Update(fn))
}

func mapClosed(err error) error {
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return ErrClosed
	}
	return err
}
