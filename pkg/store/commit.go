package store

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"strconv"
	"time"

	"github.com/schedulezero/schedulezero/pkg/field"
	bolt "go.etcd.io/bbolt"
)

// request is one Writes, validated and encoded by the caller's goroutine so
// the committer only copies bytes into the B+tree.
type request struct {
	w     Writes
	sched [][]byte // encoded w.Schedules
	state [][]byte // encoded w.ScheduleStates
	exec  [][]byte // encoded w.Executions
	keys  [][]byte // keys of w.Executions
	notif [][]byte // encoded w.Notifications
	size  int
	prune *pruneOrder // a chunk of Prune to do in the batch's transaction
	done  func(error)
	lazy  time.Time // when CommitLazy queued it; zero: urgent
}

// prepare validates and encodes w. Validation here is what lets one bad
// Writes fail alone instead of failing the group it would be committed with.
//
// The encodings share one buffer and the lists of them one slice: a fire
// is a Writes of one execution and one firing state, and one allocation
// each instead of one per piece took six of the ten allocations prepare
// made per record away (BenchmarkGroupCommit). The pieces are capped
// slices of the buffer, so nothing appended to one runs into the next;
// bbolt keeps the values, not copies, until the transaction commits.
func prepare(w Writes) (*request, error) {
	r := &request{w: w, size: len(w.Schedules) + len(w.DeleteSchedules) + len(w.ScheduleStates) + len(w.Executions) + len(w.Notifications) + len(w.DeleteNotifications)}
	if err := validWrites(&w); err != nil {
		return nil, err
	}
	n := len(w.ScheduleStates) * stateLen
	for i := range w.Executions {
		n += executionCap(&w.Executions[i]) + len(w.Executions[i].ID) + attemptKeySuffLen
	}
	buf := make([]byte, 0, n)
	slots := make([][]byte, len(w.Schedules)+len(w.ScheduleStates)+2*len(w.Executions)+len(w.Notifications))
	r.sched, slots = slots[:0:len(w.Schedules)], slots[len(w.Schedules):]
	r.state, slots = slots[:0:len(w.ScheduleStates)], slots[len(w.ScheduleStates):]
	r.exec, slots = slots[:0:len(w.Executions)], slots[len(w.Executions):]
	r.keys, slots = slots[:0:len(w.Executions)], slots[len(w.Executions):]
	r.notif = slots[:0:len(w.Notifications)]
	for _, s := range w.Schedules {
		v, err := appendSchedule(nil, &s)
		if err != nil {
			return nil, fmt.Errorf("schedule %q: %w", s.ID, err)
		}
		r.sched = append(r.sched, v)
	}
	for i := range w.ScheduleStates {
		lo := len(buf)
		buf = appendState(buf, &w.ScheduleStates[i])
		r.state = append(r.state, buf[lo:len(buf):len(buf)])
	}
	for i := range w.Executions {
		e := &w.Executions[i]
		lo := len(buf)
		var err error
		if buf, err = appendExecution(buf, e); err != nil {
			return nil, fmt.Errorf("execution %q attempt %d: %w", e.ID, e.Attempt, err)
		}
		r.exec = append(r.exec, buf[lo:len(buf):len(buf)])
		lo = len(buf)
		buf = appendExecutionKey(buf, e.ID, e.Attempt)
		r.keys = append(r.keys, buf[lo:len(buf):len(buf)])
	}
	for i := range w.Notifications {
		n := &w.Notifications[i]
		v, err := json.Marshal(n)
		if err != nil {
			return nil, fmt.Errorf("notification %q: %w", n.ID, err)
		}
		r.notif = append(r.notif, v)
	}
	return r, nil
}

// executionCap is about the most bytes the compact form of e takes: its
// fixed part is at most 160 bytes with IDs of the usual lengths.
func executionCap(e *Execution) int {
	return 160 + len(e.Result) + len(e.Error) + len(e.ParamsSummary) + len(e.Note) + len(e.Instance) + len(e.Host)
}

// validWrites checks the IDs and executions of w. A field's name is built
// only for its error: building it for every record was a third of
// prepare's allocations.
func validWrites(w *Writes) error {
	for i, s := range w.Schedules {
		if err := validIDAt("schedules", i, ".id", s.ID); err != nil {
			return err
		}
	}
	for i, id := range w.DeleteSchedules {
		if err := validIDAt("delete_schedules", i, "", id); err != nil {
			return err
		}
	}
	for i := range w.ScheduleStates {
		if err := validIDAt("schedule_states", i, ".id", w.ScheduleStates[i].ID); err != nil {
			return err
		}
	}
	for i := range w.Executions {
		if err := validExecution(i, &w.Executions[i]); err != nil {
			return err
		}
	}
	for i := range w.Notifications {
		if err := validIDAt("notifications", i, ".id", w.Notifications[i].ID); err != nil {
			return err
		}
	}
	for i, id := range w.DeleteNotifications {
		if err := validIDAt("delete_notifications", i, "", id); err != nil {
			return err
		}
	}
	return nil
}

func itoa(i int) string { return strconv.Itoa(i) }

func validID(name, id string) error {
	switch {
	case id == "":
		return field.Errorf(name, "must not be empty")
	case len(id) > maxIDLen:
		return field.Errorf(name, "is %d bytes long", len(id)).WithFix("use at most %d bytes", maxIDLen)
	}
	return nil
}

// validIDAt is validID for the field list[i]+suffix.
func validIDAt(list string, i int, suffix, id string) error {
	if id != "" && len(id) <= maxIDLen {
		return nil
	}
	return validID(list+"["+itoa(i)+"]"+suffix, id)
}

func validExecution(i int, e *Execution) error {
	name := func(f string) string { return "executions[" + itoa(i) + "]." + f }
	if err := validIDAt("executions", i, ".execution_id", e.ID); err != nil {
		return err
	}
	if e.Attempt < 0 || int64(e.Attempt) > int64(^uint32(0)) {
		return field.Errorf(name("attempt_number"), "is %d", e.Attempt).WithFix("use 0 to %d", ^uint32(0))
	}
	if len(e.ScheduleID) > maxIDLen {
		return field.Errorf(name("job_id"), "is %d bytes long", len(e.ScheduleID)).WithFix("use at most %d bytes", maxIDLen)
	}
	if len(e.HandlerID) > maxIDLen {
		return field.Errorf(name("handler_id"), "is %d bytes long", len(e.HandlerID)).WithFix("use at most %d bytes", maxIDLen)
	}
	if e.Status == "" {
		return field.Errorf(name("status"), "must not be empty")
	}
	return nil
}

// Commit atomically applies w. Concurrent Commit and CommitAsync calls are
// grouped by one committer goroutine into a single bbolt transaction, so
// many callers share one fsync; Commit returns once w is durable.
//
// Schedules are stored (replacing any with the same ID), DeleteSchedules are
// removed (a missing ID is not an error), ScheduleStates update the firing
// state of existing schedules, and Executions are stored under
// (ID, Attempt), replacing an earlier record of the same attempt (running,
// then final). Invalid input fails with a *field.Error before anything is
// queued and never affects other callers.
//
// If ctx ends first Commit returns ctx's error, but w stays queued and may
// still be committed: callers that need to know must read it back.
func (db *DB) Commit(ctx context.Context, w Writes) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	ch := make(chan error, 1)
	db.CommitAsync(w, func(err error) { ch <- err })
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		return fmt.Errorf("commit (may still be applied): %w", ctx.Err())
	}
}

// CommitAsync is Commit without waiting: done is called with the outcome
// once w is durable (or failed). done runs on the committer goroutine, after
// the fsync, and must not block; on a validation error or a closed DB it
// runs at once on the caller's goroutine.
func (db *DB) CommitAsync(w Writes, done func(error)) { db.enqueue(w, done, false) }

// CommitLazy is CommitAsync for a write that nothing waits on urgently (a
// finished attempt's record): it may wait up to Options.Linger for another
// write and then shares that one's transaction and fsync instead of paying
// for its own. An urgent write, a full batch or Close ends the wait. At a
// thousand executions a second this takes one transaction of two away
// from each execution, and with it most of the garbage bbolt makes per
// transaction (docs/performance.md).
func (db *DB) CommitLazy(w Writes, done func(error)) { db.enqueue(w, done, true) }

func (db *DB) enqueue(w Writes, done func(error), lazy bool) {
	r, err := prepare(w)
	if err != nil {
		done(err)
		return
	}
	if r.size == 0 {
		done(nil)
		return
	}
	r.done = done
	db.enqueueRequest(r, lazy)
}

// enqueueRequest queues r for the committer.
func (db *DB) enqueueRequest(r *request, lazy bool) {
	if lazy {
		r.lazy = time.Now()
	}
	db.mu.Lock()
	if db.closing {
		db.mu.Unlock()
		r.done(ErrClosed)
		return
	}
	db.queue = append(db.queue, r)
	db.queued += r.size
	if !lazy {
		db.urgent++
	}
	if len(db.queue) == 1 || !lazy {
		db.cond.Signal()
	}
	db.mu.Unlock()
}

// Queued returns how many records wait for the committer: a writer that
// can outpace the disk (the scheduler's timer loop under overload) slows
// down when it grows, since nothing else bounds the queue.
func (db *DB) Queued() int {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.queued
}

// MaxBatch is the most records one group commit applies.
func (db *DB) MaxBatch() int { return db.opts.MaxBatch }

// committer is the single goroutine that applies queued requests. It waits
// without a timer when idle, so a lone write costs one transaction and one
// fsync; under load the queue fills while the previous fsync runs and the
// next batch takes it whole (up to MaxBatch records).
func (db *DB) committer() {
	defer db.wg.Done()
	for {
		batch := db.take()
		if batch == nil {
			// Closing: an empty log lets the next Open start at once.
			if db.stateN > 0 && !db.opts.keepStateLog {
				db.mergeStates()
			}
			return
		}
		db.commitBatch(batch)
		if db.recentN >= db.opts.mergeRecentAt {
			db.mergeRecent()
		}
		if db.stateN >= db.opts.mergeStatesAt {
			db.mergeStates()
		}
	}
}

// take waits for queued requests and removes a batch of them; it returns
// nil once the DB is closing and the queue is empty.
func (db *DB) take() []*request {
	db.mu.Lock()
	defer db.mu.Unlock()
	for {
		if len(db.queue) == 0 {
			if db.closing {
				return nil
			}
			db.cond.Wait()
			continue
		}
		if db.urgent > 0 || db.closing || db.queued >= db.opts.MaxBatch/8 {
			break
		}
		// Only lazy writes: wait for company until the oldest has
		// lingered long enough.
		wait := db.opts.Linger - time.Since(db.queue[0].lazy)
		if wait <= 0 {
			break
		}
		db.linger.Reset(wait)
		db.cond.Wait()
	}
	// A small batch waits one scheduling round, so that writers that are
	// runnable now join it: under load that turns many small transactions
	// (each re-reading the B+tree pages it touches, and one fsync each)
	// into fewer large ones; an idle store loses a few hundred
	// nanoseconds. It is not a timer: nothing waits when nobody else runs.
	if db.queued < db.opts.MaxBatch/8 && !db.closing {
		db.mu.Unlock()
		runtime.Gosched()
		db.mu.Lock()
	}
	n, size := 0, 0
	for n < len(db.queue) && (n == 0 || size+db.queue[n].size <= db.opts.MaxBatch) {
		size += db.queue[n].size
		n++
	}
	db.queued -= size
	batch := make([]*request, n)
	copy(batch, db.queue[:n])
	for _, r := range batch {
		if r.lazy.IsZero() {
			db.urgent--
		}
	}
	rest := copy(db.queue, db.queue[n:])
	clear(db.queue[rest:])
	db.queue = db.queue[:rest]
	return batch
}

// commitBatch applies batch in one transaction. Should that fail, each
// request is retried in its own transaction so only the failing one sees
// the error.
func (db *DB) commitBatch(batch []*request) {
	if db.opts.batchHook != nil {
		db.opts.batchHook(batch)
	}
	var added applied
	start := time.Now()
	err := mapClosed(db.bolt.Update(func(tx *bolt.Tx) error {
		var err error
		added, err = applyAll(tx, batch)
		return err
	}))
	if err == nil {
		err = db.replicate(batch)
	}
	if err == nil {
		db.recentN += added.recent
		db.stateN += added.states
		if db.opts.CommitFunc != nil {
			n := 0
			for _, r := range batch {
				n += r.size
			}
			db.opts.CommitFunc(n, time.Since(start))
		}
	}
	if err == nil || len(batch) == 1 {
		for _, r := range batch {
			r.done(err)
		}
		return
	}
	db.log.Warn("group commit failed; retrying writes one by one", "writes", len(batch), "err", err)
	for _, r := range batch {
		err := mapClosed(db.bolt.Update(func(tx *bolt.Tx) error {
			added, err := applyAll(tx, []*request{r})
			db.recentN += added.recent
			db.stateN += added.states
			return err
		}))
		if err == nil {
			err = db.replicate([]*request{r})
		}
		r.done(err)
	}
}

// applied counts the entries a batch added to idx_schedule_recent and
// schedule_state_log, which the committer merges once they are many.
type applied struct{ recent, states int }

// applyAll applies batch and reports what it added to the buckets that
// are merged in bulk.
func applyAll(tx *bolt.Tx, batch []*request) (applied, error) {
	w, err := newTxWriter(tx)
	if err != nil {
		return applied{}, err
	}
	for _, r := range batch {
		for i, s := range r.w.Schedules {
			if err := putSchedule(w.sched, w.state, w.stlog, s.ID, r.sched[i]); err != nil {
				return applied{}, err
			}
		}
		for _, id := range r.w.DeleteSchedules {
			if err := deleteSchedule(w.sched, w.state, w.stlog, id); err != nil {
				return applied{}, err
			}
		}
		for i, s := range r.w.ScheduleStates {
			if w.sched.Get(w.idKey(s.ID)) == nil {
				continue // deleted meanwhile: its state goes with it
			}
			// Appended, not put by ID: see statelog.go.
			if err := w.stlog.putState(s.ID, r.state[i]); err != nil {
				return applied{}, err
			}
		}
		for i := range r.w.Executions {
			if err := w.putExecution(r.keys[i], &r.w.Executions[i], r.exec[i]); err != nil {
				return applied{}, err
			}
		}
		if err := putNotifications(tx, r.w.Notifications, r.notif, r.w.DeleteNotifications); err != nil {
			return applied{}, err
		}
		if r.prune != nil {
			if err := w.prune(r.prune); err != nil {
				return applied{}, fmt.Errorf("prune: %w", err)
			}
		}
	}
	return applied{w.recentAdded, w.stlog.added}, w.flush()
}
