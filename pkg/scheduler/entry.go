package scheduler

import (
	"hash/fnv"
	"slices"
	"strings"
	"time"
	"unique"

	"github.com/schedulezero/schedulezero/pkg/store"
	"github.com/schedulezero/schedulezero/pkg/trigger"
)

// entry is one schedule as the engine holds it: the record (authoritative
// in memory; the store has what was last committed) and, once it fires,
// its compiled trigger. index is its place in the heap, or -1 when it is
// not due ever (paused or done).
//
// The engine holds every schedule for as long as it runs, so an entry is
// kept to 112 bytes, a size class of the allocator (TestEntrySize; 144
// before, 320 and 480 before that): what a schedule at rest does not have
// (a policy, a pause, a source; a compiled trigger, executions in flight,
// occurrences waiting, skips not yet written) is behind one pointer that
// is nil when it has none, and the record is packed (docs/performance.md,
// Memory).
type entry struct {
	rec  schedule
	live *live // nil: no tuning, not compiled, nothing running or waiting

	index int32
	// dirty says rec changed (skipped fires) and was not written since;
	// flushing says the entry is in Scheduler.dirty, for flushSkipsLocked.
	dirty    bool
	flushing bool
	// broken says the trigger does not compile: the schedule is kept and
	// shown but never fires.
	broken bool
}

// live is what a schedule holds once it fires (its compiled trigger, its
// executions in flight, the occurrences it queues and the skips it has not
// written) and its tuning when it has one.
type live struct {
	tune *tuning // nil: the zero policy, no offset, no source, not paused
	// trig is the compiled trigger; nil until the first fire needs it
	// (see Scheduler.triggerLocked): start-up would otherwise parse every
	// trigger, most of its time, and hold each compiled for a fire an hour
	// or a day away.
	trig trigger.Trigger
	// running holds the executions in flight (overlap policy). A slice,
	// not a map: there is one in flight but for overlap allow, and a map
	// made and dropped per fire was two allocations of each execution.
	// Its storage is kept while the schedule fires (see removeRunning).
	running []run
	backlog []backlogItem
	skips   *skips
}

// schedule is store.Schedule without its Policy, Source and PausedAt,
// packed: the engine holds one for every schedule as long as it runs (96
// bytes against 272, and one allocation of text where there were three).
// The id, trigger and params are one string (the id is also the key of
// Scheduler.entries; ids are at most 1,024 bytes, the store's limit);
// handler, method, time zone, attempts and timeout one interned handle;
// each instant 12 bytes (see packInstant) instead of 24. The accessors in
// schedule_fields.go read and write it as store.Schedule's fields;
// entry.record puts the whole record together.
type schedule struct {
	text        string // id, trigger, params
	job         unique.Handle[scheduleJob]
	at          [numInstants]int64 // packInstant
	FireCount   int64
	MissedCount int64
	nsec        [numInstants]uint32
	trigLen     uint32
	idLen       uint16
	Paused      bool
	Done        bool
}

// tuning is a schedule's policy when it is not the zero one, and the
// stable random offset it derives from it, its source when a file manages
// it, and when it was paused: what few schedules have.
type tuning struct {
	policy store.Policy
	offset time.Duration // Policy.RandomOffset, see stableOffset
	source string        // store.Schedule.Source
	// pausedAt is store.Schedule.PausedAt, packed (packInstant).
	pausedAt   int64
	pausedNsec uint32
}

// isZero says t holds nothing an entry without a tuning would not.
func (t *tuning) isZero() bool {
	return t.policy.IsZero() && t.offset == 0 && t.source == "" && t.pausedAt == 0
}

// skips counts n occurrences skipped from from to to, the last at at;
// they are written as one record.
type skips struct {
	n            int64
	from, to, at time.Time
	why          string // the reason of the first skip (busyReasonLocked)
}

// backlogItem is an occurrence waiting for the schedule's previous run.
type backlogItem struct {
	occ    time.Time
	reason string // why it waits: "queued", "catch-up", "backfill"
	id     string // the execution recorded pending for it, if any (catchup.go)
}

// newEntry holds rec; trig is its compiled trigger, or nil to compile it
// when it is first needed.
func newEntry(rec store.Schedule, trig trigger.Trigger) *entry {
	e := &entry{index: -1}
	e.set(rec)
	e.setTrigger(trig)
	return e
}

// set makes rec the entry's record.
func (e *entry) set(rec store.Schedule) {
	e.rec = packSchedule(rec)
	var t *tuning
	if !rec.Policy.IsZero() || rec.Source != "" || !rec.PausedAt.IsZero() {
		t = &tuning{policy: rec.Policy, offset: stableOffset(rec.ID, rec.Policy.RandomOffset), source: strings.Clone(rec.Source)}
		t.pausedAt, t.pausedNsec = packInstant(rec.PausedAt)
	}
	e.setTuning(t)
}

// tuning is e's tuning, nil when it has none.
func (e *entry) tuning() *tuning {
	if e.live == nil {
		return nil
	}
	return e.live.tune
}

// setTuning makes t e's tuning (nil: none).
func (e *entry) setTuning(t *tuning) {
	if t != nil && e.live == nil {
		e.live = &live{}
	}
	if e.live != nil {
		e.live.tune = t
		e.tidy()
	}
}

// record returns the whole record, as the store and the API know it.
func (e *entry) record() store.Schedule {
	rec := e.rec.unpack()
	rec.Policy, rec.Source, rec.PausedAt = e.policy(), e.source(), e.pausedAt()
	return rec
}

// state is e's firing state, what a fire writes (store.Writes'
// ScheduleStates): the record without its trigger and params, which
// record would copy for each fire.
func (e *entry) state() store.Schedule {
	return store.Schedule{
		ID: e.rec.ID(), HandlerID: e.rec.HandlerID(), Method: e.rec.Method(),
		NextFire: e.rec.NextFire(), LastFire: e.rec.LastFire(), PausedAt: e.pausedAt(),
		FireCount: e.rec.FireCount, MissedCount: e.rec.MissedCount,
		Paused: e.rec.Paused, Done: e.rec.Done,
	}
}

// pausedAt is when the schedule was paused, zero when it is not (or was
// paused before pauses were timed).
func (e *entry) pausedAt() time.Time {
	t := e.tuning()
	if t == nil {
		return time.Time{}
	}
	return unpackInstant(t.pausedAt, t.pausedNsec)
}

// setPausedAt makes t the time the schedule was paused (zero: it is not).
func (e *entry) setPausedAt(t time.Time) {
	tn := e.tuning()
	if tn == nil {
		if t.IsZero() {
			return
		}
		tn = &tuning{}
		e.setTuning(tn)
	}
	tn.pausedAt, tn.pausedNsec = packInstant(t)
	if tn.isZero() {
		e.setTuning(nil)
	}
}

// source is the schedule's source, empty for the API's.
func (e *entry) source() string {
	if t := e.tuning(); t != nil {
		return t.source
	}
	return ""
}

// policy is the schedule's policy.
func (e *entry) policy() store.Policy {
	if t := e.tuning(); t != nil {
		return t.policy
	}
	return store.Policy{}
}

// offset is the schedule's stable random offset (Policy.RandomOffset).
func (e *entry) offset() time.Duration {
	if t := e.tuning(); t != nil {
		return t.offset
	}
	return 0
}

// due is when the engine fires the entry's next occurrence.
func (e *entry) due() time.Time { return e.rec.NextFire().Add(e.offset()) }

// dueKey is due as Unix seconds and nanoseconds, for the heap's
// comparisons without building a time.Time.
func (e *entry) dueKey() (sec, nsec int64) {
	sec, nsec = e.rec.instantKey(atNextFire)
	nsec += int64(e.offset())
	return sec + nsec/1e9, nsec % 1e9
}

// stableOffset derives a schedule's fixed shift in [0, limit) from its id,
// so that it is the same on every start (systemd's RandomizedOffsetSec=).
func stableOffset(id string, limit time.Duration) time.Duration {
	if limit <= 0 {
		return 0
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte(id))
	return time.Duration(h.Sum64() % uint64(limit))
}

// trigger is e's compiled trigger, nil when it is not yet.
func (e *entry) trigger() trigger.Trigger {
	if e.live == nil {
		return nil
	}
	return e.live.trig
}

// setTrigger makes trig e's compiled trigger (nil: compile it when it is
// needed).
func (e *entry) setTrigger(trig trigger.Trigger) {
	if trig != nil && e.live == nil {
		e.live = &live{}
	}
	if e.live != nil {
		e.live.trig = trig
		e.tidy()
	}
}

// run is an execution in flight and its id, kept apart: a retry replaces
// the execution's record on its own goroutine.
type run struct {
	id string
	ex *execution
}

// runs is e's executions in flight, empty when there are none. The
// caller must not keep it past s.mu.
func (e *entry) runs() []run {
	if e.live == nil {
		return nil
	}
	return e.live.running
}

// addRunning puts ex in e's running set.
func (e *entry) addRunning(ex *execution) {
	if e.live == nil {
		e.live = &live{}
	}
	e.live.running = append(e.live.running, run{ex.rec.ID, ex})
}

// removeRunning takes ex out of e's running set. An emptied set keeps its
// storage for the next fire unless it grew beyond a few (overlap allow).
func (e *entry) removeRunning(ex *execution) {
	if e.live == nil {
		return
	}
	r := e.live.running
	for i, x := range r {
		if x.ex == ex {
			r = slices.Delete(r, i, i+1)
			break
		}
	}
	if len(r) == 0 && cap(r) > 4 {
		r = nil
	}
	e.live.running = r
	if len(r) == 0 {
		e.tidy()
	}
}

// queue appends an occurrence to e's backlog.
func (e *entry) queue(occ time.Time, reason string) {
	if e.live == nil {
		e.live = &live{}
	}
	e.live.backlog = append(e.live.backlog, backlogItem{occ: occ, reason: reason})
}

// queueRecorded appends an occurrence recorded pending as execution id.
func (e *entry) queueRecorded(occ time.Time, reason, id string) {
	e.queue(occ, reason)
	e.live.backlog[len(e.live.backlog)-1].id = id
}

// queued is the length of e's backlog.
func (e *entry) queued() int {
	if e.live == nil {
		return 0
	}
	return len(e.live.backlog)
}

// dequeue takes the first occurrence of e's non-empty backlog.
func (e *entry) dequeue() backlogItem {
	item := e.live.backlog[0]
	e.live.backlog = e.live.backlog[1:]
	e.tidy()
	return item
}

// skipped returns e's skips not yet written, or nil.
func (e *entry) skipped() *skips {
	if e.live == nil {
		return nil
	}
	return e.live.skips
}

// addSkips counts n more occurrences skipped, from from to to, at now,
// because of why.
func (e *entry) addSkips(from, to, now time.Time, n int64, why string) {
	if e.live == nil {
		e.live = &live{}
	}
	if e.live.skips == nil {
		e.live.skips = &skips{from: from, why: why}
	}
	sk := e.live.skips
	sk.n += n
	sk.to, sk.at = to, now
}

// clearSkips forgets e's skips once they are written.
func (e *entry) clearSkips() {
	if e.live != nil {
		e.live.skips = nil
		e.tidy()
	}
}

// tidy drops e.live when it holds nothing.
func (e *entry) tidy() {
	if l := e.live; l.tune == nil && l.trig == nil && len(l.running) == 0 && len(l.backlog) == 0 && l.skips == nil {
		e.live = nil
	}
}
